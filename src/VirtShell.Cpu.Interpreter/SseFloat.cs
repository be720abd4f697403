using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// SSE/SSE2 floating point: scalar and packed single and double arithmetic, min/max, square root, compares into masks
// or EFLAGS, and the conversions compilers emit between integers and floating point. Lanes are computed one at a time
// in double (exact for single operands: double rounding is harmless for + - * / and square root from float), with
// MXCSR's exception flags: invalid (IE), denormal operand (DE), divide by zero (ZE), overflow (OE), underflow (UE) and
// precision (PE, from the exact error of the operation). An unmasked exception leaves the destination as it was and
// raises #XM (#UD without CR4.OSXMMEXCPT). Rounding modes other than nearest, FTZ and DAZ stop as unimplemented.
public sealed unsafe partial class InterpreterCpu
{
    private const uint MxcsrIe = 1, MxcsrDe = 2, MxcsrZe = 4, MxcsrOe = 8, MxcsrUe = 0x10, MxcsrPe = 0x20;
    private const uint MxcsrDaz = 0x40, MxcsrRc = 0x6000, MxcsrFtz = 0x8000;

    private const double MinNormalSingle = 1.1754943508222875e-38, MinNormalDouble = 2.2250738585072014e-308;

    private enum FloatOp { Add, Sub, Mul, Div, Min, Max, Sqrt }

    private static OpcodeRow[] SseFloatOps() =>
    [
        ..Ops([Mnemonic.Addss, Mnemonic.Addsd, Mnemonic.Addps, Mnemonic.Addpd, Mnemonic.Subss, Mnemonic.Subsd,
                Mnemonic.Subps, Mnemonic.Subpd, Mnemonic.Mulss, Mnemonic.Mulsd, Mnemonic.Mulps, Mnemonic.Mulpd,
                Mnemonic.Divss, Mnemonic.Divsd, Mnemonic.Divps, Mnemonic.Divpd, Mnemonic.Minss, Mnemonic.Minsd,
                Mnemonic.Minps, Mnemonic.Minpd, Mnemonic.Maxss, Mnemonic.Maxsd, Mnemonic.Maxps, Mnemonic.Maxpd,
                Mnemonic.Sqrtss, Mnemonic.Sqrtsd, Mnemonic.Sqrtps, Mnemonic.Sqrtpd], &FloatArithmetic, CpuModes.All),
        ..Ops([Mnemonic.Ucomiss, Mnemonic.Ucomisd, Mnemonic.Comiss, Mnemonic.Comisd], &CompareIntoFlags, CpuModes.All),
        ..Ops([Mnemonic.Cmpss, Mnemonic.Cmpps, Mnemonic.Cmppd], &CompareFloat, CpuModes.All),
        OpCode(Code.Cmpsd_xmm_xmmm64_imm8, &CompareFloat, CpuModes.All),
        ..Ops([Mnemonic.Cvtsi2ss, Mnemonic.Cvtsi2sd, Mnemonic.Cvtss2sd, Mnemonic.Cvtsd2ss], &ConvertToFloat, CpuModes.All),
        ..Ops([Mnemonic.Cvttss2si, Mnemonic.Cvttsd2si, Mnemonic.Cvtss2si, Mnemonic.Cvtsd2si], &ConvertToInteger, CpuModes.All),
    ];

    /// <summary>The lane width of an SSE floating-point instruction (its mnemonic ends in SS/PS or SD/PD) and whether it is scalar.</summary>
    private static (bool Single, bool Scalar) FloatShape(Mnemonic m)
    {
        string name = m.ToString();
        return (name[^1] == 's', name[^2] == 's');
    }

    /// <summary>Arithmetic needs MXCSR's default rounding without FTZ/DAZ: anything else is not implemented here.</summary>
    private void RequireDefaultRounding(ref DecodedOp d)
    {
        if ((_mxcsr & (MxcsrRc | MxcsrFtz | MxcsrDaz)) != 0)
            throw new UnimplementedInstruction($"{d.I} with MXCSR {_mxcsr:x8} (only round-to-nearest without FTZ/DAZ is implemented)");
    }

    /// <summary>Records exception flags; an unmasked one is #XM (or #UD without CR4.OSXMMEXCPT) before any result is written.</summary>
    private void SseRaise(uint flags)
    {
        if (flags == 0) return;
        _mxcsr |= flags;
        if ((flags & ~(_mxcsr >> 7) & 0x3F) != 0)
            throw new CpuFault((_cr4 & Cr4Osxmmexcpt) != 0 ? Vector.SimdFloatingPoint : Vector.InvalidOpcode);
    }

    private static bool IsSignalingNan(double v, bool single) => single
        ? float.IsNaN((float)v) && (BitConverter.SingleToUInt32Bits((float)v) & 0x40_0000) == 0
        : double.IsNaN(v) && (BitConverter.DoubleToUInt64Bits(v) & 0x8_0000_0000_0000) == 0;

    private static bool IsDenormal(double v, bool single) =>
        v != 0 && (single ? float.IsSubnormal((float)v) : double.IsSubnormal(v));

    private static double Lane(UInt128 v, int i, bool single) => single
        ? BitConverter.UInt32BitsToSingle((uint)(v >> (32 * i)))
        : BitConverter.UInt64BitsToDouble((ulong)(v >> (64 * i)));

    private static UInt128 WithLane(UInt128 v, int i, bool single, double x)
    {
        int width = single ? 32 : 64, shift = width * i;
        UInt128 bits = single ? BitConverter.SingleToUInt32Bits((float)x) : BitConverter.DoubleToUInt64Bits(x);
        UInt128 mask = (single ? (UInt128)uint.MaxValue : ulong.MaxValue) << shift;
        return (v & ~mask) | (bits << shift);
    }

    /// <summary>A NaN made quiet, as the CPU returns an operand NaN.</summary>
    private static double Quiet(double v, bool single) => single
        ? BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits((float)v) | 0x40_0000)
        : BitConverter.UInt64BitsToDouble(BitConverter.DoubleToUInt64Bits(v) | 0x8_0000_0000_0000);

    /// <summary>One lane of an arithmetic operation with its exception flags (x86 NaN rules: the first operand's NaN wins).</summary>
    private static double FloatLane(FloatOp op, double a, double b, bool single, ref uint flags)
    {
        if (op == FloatOp.Sqrt) a = b;
        bool aNan = double.IsNaN(a), bNan = op != FloatOp.Sqrt && double.IsNaN(b);
        if (IsSignalingNan(a, single) || (op != FloatOp.Sqrt && IsSignalingNan(b, single))) flags |= MxcsrIe;
        if (op is FloatOp.Min or FloatOp.Max)
        {
            if (aNan || bNan) { flags |= MxcsrIe; return b; } // the second operand, NaN or not
            if (IsDenormal(a, single) || IsDenormal(b, single)) flags |= MxcsrDe;
            return op == FloatOp.Min ? (a < b ? a : b) : (a > b ? a : b);
        }
        if (aNan) return Quiet(a, single);
        if (bNan) return Quiet(b, single);
        if (IsDenormal(a, single) || (op != FloatOp.Sqrt && IsDenormal(b, single))) flags |= MxcsrDe;
        double r;
        bool exact;
        switch (op)
        {
            case FloatOp.Add or FloatOp.Sub:
                double bb = op == FloatOp.Sub ? -b : b;
                r = a + bb;
                double t = r - a;
                exact = double.IsInfinity(r) || (a - (r - t)) + (bb - t) == 0;
                break;
            case FloatOp.Mul:
                r = a * b;
                exact = double.IsInfinity(r) || r == 0 || Math.FusedMultiplyAdd(a, b, -r) == 0;
                break;
            case FloatOp.Div:
                if (b == 0 && a != 0 && !double.IsInfinity(a)) flags |= MxcsrZe;
                r = a / b;
                exact = b == 0 || double.IsInfinity(r) || r == 0 || Math.FusedMultiplyAdd(r, b, -a) == 0;
                break;
            default:
                r = Math.Sqrt(a);
                exact = double.IsNaN(r) || double.IsInfinity(r) || Math.FusedMultiplyAdd(r, r, -a) == 0;
                break;
        }
        if (double.IsNaN(r))
        {
            flags |= MxcsrIe;
            return single ? BitConverter.UInt32BitsToSingle(0xFFC0_0000) : BitConverter.UInt64BitsToDouble(0xFFF8_0000_0000_0000);
        }
        if (single)
        {
            float f = (float)r;
            exact &= f == r || (float.IsInfinity(f) && double.IsInfinity(r));
            r = f;
        }
        bool finiteInputs = !double.IsInfinity(a) && !double.IsInfinity(b);
        if (double.IsInfinity(r) && finiteInputs && op != FloatOp.Div || (op == FloatOp.Div && double.IsInfinity(r) && b != 0 && finiteInputs))
            flags |= MxcsrOe | MxcsrPe;
        else if (!exact) flags |= MxcsrPe;
        if (!exact && r != 0 && Math.Abs(r) < (single ? MinNormalSingle : MinNormalDouble)) flags |= MxcsrUe;
        else if (!exact && r == 0) flags |= MxcsrUe;
        return r;
    }

    private static void FloatArithmetic(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        c.RequireDefaultRounding(ref d);
        var (single, scalar) = FloatShape(d.I.Mnemonic);
        var op = d.I.Mnemonic.ToString()[..3] switch
        {
            "Add" => FloatOp.Add, "Sub" => FloatOp.Sub, "Mul" => FloatOp.Mul, "Div" => FloatOp.Div,
            "Min" => FloatOp.Min, "Max" => FloatOp.Max, _ => FloatOp.Sqrt,
        };
        UInt128 a = c._xmm[d.Reg0], b = c.SseRead(ref d, 1, scalar ? single ? 4 : 8 : 16);
        if (op == FloatOp.Sqrt && !scalar) a = b;
        int lanes = scalar ? 1 : single ? 4 : 2;
        uint flags = 0;
        UInt128 r = a;
        for (int i = 0; i < lanes; i++) r = WithLane(r, i, single, FloatLane(op, Lane(a, i, single), Lane(b, i, single), single, ref flags));
        c.SseRaise(flags);
        c._xmm[d.Reg0] = r;
    }

    /// <summary>UCOMISS/UCOMISD/COMISS/COMISD: ZF PF CF = 111 unordered, 001 less, 100 equal, 000 greater; OF AF SF cleared.</summary>
    private static void CompareIntoFlags(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        var (single, _) = FloatShape(d.I.Mnemonic);
        double a = Lane(c._xmm[d.Reg0], 0, single), b = Lane(c.SseRead(ref d, 1, single ? 4 : 8), 0, single);
        bool signalsQuiet = d.I.Mnemonic is Mnemonic.Comiss or Mnemonic.Comisd;
        uint flags = 0;
        if (IsSignalingNan(a, single) || IsSignalingNan(b, single) || (signalsQuiet && (double.IsNaN(a) || double.IsNaN(b)))) flags |= MxcsrIe;
        else if (IsDenormal(a, single) || IsDenormal(b, single)) flags |= MxcsrDe;
        c.SseRaise(flags);
        uint result = double.IsNaN(a) || double.IsNaN(b) ? FlagZf | FlagPf | FlagCf : a < b ? FlagCf : a == b ? FlagZf : 0;
        c.SetArith(result);
    }

    /// <summary>CMPSS/CMPSD/CMPPS/CMPPD: a lane of ones where the predicate (EQ LT LE UNORD NEQ NLT NLE ORD) holds.</summary>
    private static void CompareFloat(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        var (single, scalar) = FloatShape(d.I.Mnemonic);
        int predicate = (int)(d.Imm & 7);
        UInt128 a = c._xmm[d.Reg0], b = c.SseRead(ref d, 1, scalar ? single ? 4 : 8 : 16);
        int lanes = scalar ? 1 : single ? 4 : 2;
        uint flags = 0;
        UInt128 r = a;
        for (int i = 0; i < lanes; i++)
        {
            double x = Lane(a, i, single), y = Lane(b, i, single);
            bool unordered = double.IsNaN(x) || double.IsNaN(y);
            if (IsSignalingNan(x, single) || IsSignalingNan(y, single) || (unordered && predicate is 1 or 2 or 5 or 6)) flags |= MxcsrIe;
            else if (IsDenormal(x, single) || IsDenormal(y, single)) flags |= MxcsrDe;
            bool holds = predicate switch
            {
                0 => x == y, 1 => x < y, 2 => x <= y, 3 => unordered, 4 => !(x == y), 5 => !(x < y), 6 => !(x <= y), _ => !unordered,
            };
            UInt128 ones = (single ? (UInt128)uint.MaxValue : ulong.MaxValue) << ((single ? 32 : 64) * i);
            r = holds ? r | ones : r & ~ones;
        }
        c.SseRaise(flags);
        c._xmm[d.Reg0] = r;
    }

    /// <summary>CVTSI2SS/CVTSI2SD from a 32- or 64-bit integer, CVTSS2SD and CVTSD2SS: into the low lane, the rest kept.</summary>
    private static void ConvertToFloat(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        c.RequireDefaultRounding(ref d);
        var m = d.I.Mnemonic;
        bool toSingle = m is Mnemonic.Cvtsi2ss or Mnemonic.Cvtsd2ss;
        uint flags = 0;
        double r;
        if (m is Mnemonic.Cvtsi2ss or Mnemonic.Cvtsi2sd)
        {
            int size = d.I.Op1Kind == OpKind.Register ? d.I.Op1Register.GetSize() : d.MemSize;
            long v = size == 8 ? (long)(ulong)c.SseRead(ref d, 1, 8) : (int)(uint)c.SseRead(ref d, 1, 4);
            r = toSingle ? (float)v : (double)v;
            if ((decimal)r != v) flags |= MxcsrPe;
        }
        else
        {
            bool fromSingle = m == Mnemonic.Cvtss2sd;
            double x = Lane(c.SseRead(ref d, 1, fromSingle ? 4 : 8), 0, fromSingle);
            if (IsSignalingNan(x, fromSingle)) flags |= MxcsrIe;
            if (IsDenormal(x, fromSingle)) flags |= MxcsrDe;
            if (double.IsNaN(x)) r = Quiet(x, fromSingle);
            else if (toSingle)
            {
                float f = (float)x;
                if (f != x) flags |= float.IsInfinity(f) ? MxcsrOe | MxcsrPe : MxcsrPe;
                if (f != x && Math.Abs(f) < MinNormalSingle) flags |= MxcsrUe;
                r = f;
            }
            else r = x;
        }
        c.SseRaise(flags);
        c._xmm[d.Reg0] = WithLane(c._xmm[d.Reg0], 0, toSingle, r);
    }

    /// <summary>
    /// CVT(T)SS2SI/CVT(T)SD2SI into a 32- or 64-bit register: truncated (CVTT…) or rounded by MXCSR.RC; NaN or out of
    /// range gives the integer indefinite (only the sign bit set) and IE.
    /// </summary>
    private static void ConvertToInteger(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        var m = d.I.Mnemonic;
        bool single = m is Mnemonic.Cvttss2si or Mnemonic.Cvtss2si;
        bool truncate = m is Mnemonic.Cvttss2si or Mnemonic.Cvttsd2si;
        bool wide = d.I.Op0Register.GetSize() == 8;
        double x = Lane(c.SseRead(ref d, 1, single ? 4 : 8), 0, single);
        double rounded = truncate ? Math.Truncate(x) : ((_ = c._mxcsr) & MxcsrRc) switch
        {
            0 => Math.Round(x, MidpointRounding.ToEven),
            0x2000 => Math.Floor(x),
            0x4000 => Math.Ceiling(x),
            _ => Math.Truncate(x),
        };
        double limit = wide ? 9223372036854775808.0 : 2147483648.0;
        uint flags = IsDenormal(x, single) ? MxcsrDe : 0;
        ulong result;
        if (double.IsNaN(x) || rounded >= limit || rounded < -limit)
        {
            flags |= MxcsrIe;
            result = wide ? 0x8000_0000_0000_0000UL : 0x8000_0000UL;
        }
        else
        {
            if (rounded != x) flags |= MxcsrPe;
            result = wide ? (ulong)(long)rounded : (uint)(int)rounded;
        }
        c.SseRaise(flags);
        c._gpr[d.Reg0] = result;
    }
}
