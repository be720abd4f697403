using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// ADD ADC SUB SBB CMP INC DEC NEG, MUL IMUL DIV IDIV, XADD CMPXCHG, CBW CWDE CWD CDQ.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] ArithmeticOps() =>
    [
        Op(Mnemonic.Add, &AddOp, CpuModes.LegacyAndLong), Op(Mnemonic.Adc, &AdcOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Sub, &SubOp, CpuModes.LegacyAndLong), Op(Mnemonic.Sbb, &SbbOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Cmp, &CmpOp, CpuModes.LegacyAndLong), Op(Mnemonic.Inc, &IncOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Dec, &DecOp, CpuModes.LegacyAndLong), Op(Mnemonic.Neg, &NegOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Mul, &MulOp, CpuModes.LegacyAndLong), Op(Mnemonic.Imul, &ImulOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Div, &DivOp, CpuModes.LegacyAndLong), Op(Mnemonic.Idiv, &IdivOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Xadd, &XaddOp, CpuModes.LegacyAndLong), Op(Mnemonic.Cmpxchg, &CmpxchgOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Cmpxchg8b, &Cmpxchg8bOp), Op(Mnemonic.Cbw, &Cbw, CpuModes.LegacyAndLong),
        Op(Mnemonic.Cwde, &Cwde, CpuModes.LegacyAndLong), Op(Mnemonic.Cwd, &Cwd, CpuModes.LegacyAndLong),
        Op(Mnemonic.Cdq, &Cdq, CpuModes.LegacyAndLong),
    ];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d), b = c.ReadOp(ref d, 1) & SizeMask(d.OpSize);
        uint res = (a + b) & SizeMask(d.OpSize);
        c.WriteDst(ref d, res); // first: a store that faults leaves the flags as they were
        c.SetLazy(LazyOp.Add, res, a, b, d.OpSize);
    }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AdcOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d), b = c.ReadOp(ref d, 1) & SizeMask(d.OpSize), carry = c.Eflags & FlagCf;
        uint res = (a + b + carry) & SizeMask(d.OpSize);
        c.WriteDst(ref d, res); // first: a store that faults leaves the flags as they were
        c.SetLazy(carry != 0 ? LazyOp.Adc : LazyOp.Add, res, a, b, d.OpSize);
    }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SubOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d), b = c.ReadOp(ref d, 1) & SizeMask(d.OpSize);
        uint res = (a - b) & SizeMask(d.OpSize);
        c.WriteDst(ref d, res); // first: a store that faults leaves the flags as they were
        c.SetLazy(LazyOp.Sub, res, a, b, d.OpSize);
    }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SbbOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d), b = c.ReadOp(ref d, 1) & SizeMask(d.OpSize), borrow = c.Eflags & FlagCf;
        uint res = (a - b - borrow) & SizeMask(d.OpSize);
        c.WriteDst(ref d, res); // first: a store that faults leaves the flags as they were
        c.SetLazy(borrow != 0 ? LazyOp.Sbb : LazyOp.Sub, res, a, b, d.OpSize);
    }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CmpOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadOp(ref d, 0), b = c.ReadOp(ref d, 1) & SizeMask(d.OpSize);
        c.SetLazy(LazyOp.Sub, (a - b) & SizeMask(d.OpSize), a, b, d.OpSize);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IncOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d);
        c.WriteDst(ref d, (uint)c.IncDec(a, dec: false, d.OpSize));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DecOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d);
        c.WriteDst(ref d, (uint)c.IncDec(a, dec: true, d.OpSize));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NegOp(InterpreterCpu c, ref DecodedOp d) => c.WriteDst(ref d, (uint)c.AluSub(0, c.ReadDst(ref d), 0, d.OpSize));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void XaddOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d);
        uint b = c.ReadOp(ref d, 1);
        uint sum = (uint)c.AluAdd(a, b, 0, d.OpSize);
        c.WriteReg(d.I.Op1Register, a);
        c.WriteDst(ref d, sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CmpxchgOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d);
        uint acc = c.ReadGpr(RegEax, d.OpSize);
        c.AluSub(acc, a, 0, d.OpSize);
        if ((c.Eflags & FlagZf) != 0) c.WriteDst(ref d, c.ReadOp(ref d, 1));
        else
        {
            c.WriteDst(ref d, a); // the destination is always written, as on hardware
            c.WriteGpr(RegEax, d.OpSize, a);
        }
    }

    /// <summary>
    /// CMPXCHG8B m64: EDX:EAX against the quadword; equal stores ECX:EBX, else loads it into EDX:EAX. Only ZF changes.
    /// The register form is #UD (Iced decodes it as invalid). Both halves are checked writable before either is stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cmpxchg8bOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint linear = c.LinearWrite(d.Seg, c.EffectiveAddress(ref d), 8);
        uint lo = c.ReadLinear(linear, 4), hi = c.ReadLinear(linear + 4, 4);
        if (c._paging)
        {
            c.Translate(linear, write: true);
            c.Translate(linear + 7, write: true);
        }
        bool equal = lo == (uint)c._gpr[RegEax] && hi == (uint)c._gpr[RegEdx];
        uint flags = c.Eflags;
        if (equal)
        {
            c.WriteLinear(linear, 4, (uint)c._gpr[RegEbx]);
            c.WriteLinear(linear + 4, 4, (uint)c._gpr[RegEcx]);
        }
        else
        {
            c.WriteLinear(linear, 4, lo); // the destination is always written, as on hardware
            c.WriteLinear(linear + 4, 4, hi);
            c._gpr[RegEax] = lo;
            c._gpr[RegEdx] = hi;
        }
        c.Eflags = equal ? flags | FlagZf : flags & ~FlagZf;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MulOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint src = c.ReadOp(ref d, 0);
        uint hi, lo;
        switch (d.OpSize)
        {
            case 1:
                uint p8 = ((uint)c._gpr[RegEax] & 0xFF) * src;
                c.Ax = p8;
                hi = p8 >> 8; lo = p8 & 0xFF;
                break;
            case 2:
                uint p16 = ((uint)c._gpr[RegEax] & 0xFFFF) * src;
                c.WriteGpr(RegEax, 2, p16);
                c.WriteGpr(RegEdx, 2, p16 >> 16);
                hi = p16 >> 16; lo = p16 & 0xFFFF;
                break;
            default:
                ulong p32 = (ulong)(uint)c._gpr[RegEax] * src;
                c._gpr[RegEax] = (uint)p32;
                c._gpr[RegEdx] = (uint)(p32 >> 32);
                hi = (uint)(p32 >> 32); lo = (uint)p32;
                break;
        }
        uint cfof = hi != 0 ? FlagCf | FlagOf : 0;
        c.SetArith(cfof | Szp(lo, d.OpSize));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ImulOp(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        if (d.I.OpCount == 1)
        {
            uint src = c.ReadOp(ref d, 0);
            long product;
            bool overflow;
            switch (size)
            {
                case 1:
                    product = (sbyte)(uint)c._gpr[RegEax] * (long)(sbyte)src;
                    c.Ax = (uint)product;
                    overflow = product != (sbyte)product;
                    break;
                case 2:
                    product = (short)(uint)c._gpr[RegEax] * (long)(short)src;
                    c.WriteGpr(RegEax, 2, (uint)product);
                    c.WriteGpr(RegEdx, 2, (uint)(product >> 16));
                    overflow = product != (short)product;
                    break;
                default:
                    product = (int)(uint)c._gpr[RegEax] * (long)(int)src;
                    c._gpr[RegEax] = (uint)product;
                    c._gpr[RegEdx] = (uint)(product >> 32);
                    overflow = product != (int)product;
                    break;
            }
            c.SetArith((overflow ? FlagCf | FlagOf : 0) | Szp((uint)product & SizeMask(size), size));
            return;
        }
        uint a = c.ReadOp(ref d, d.I.OpCount == 3 ? 1 : 0);
        uint b = d.I.OpCount == 3 ? d.Imm : c.ReadOp(ref d, 1);
        long p = size == 2 ? (short)a * (long)(short)b : (int)a * (long)(int)b;
        bool ovf = size == 2 ? p != (short)p : p != (int)p;
        uint res = (uint)p & SizeMask(size);
        c.SetArith((ovf ? FlagCf | FlagOf : 0) | Szp(res, size));
        c.WriteReg(d.I.Op0Register, res);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DivOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint src = c.ReadOp(ref d, 0);
        if (src == 0) throw new CpuFault(Vector.DivideError);
        switch (d.OpSize)
        {
            case 1:
            {
                uint n = (uint)c._gpr[RegEax] & 0xFFFF;
                uint q = n / src;
                if (q > 0xFF) throw new CpuFault(Vector.DivideError);
                c.Ax = q | ((n % src) << 8);
                break;
            }
            case 2:
            {
                uint n = ((uint)c._gpr[RegEdx] << 16) | ((uint)c._gpr[RegEax] & 0xFFFF);
                uint q = n / src;
                if (q > 0xFFFF) throw new CpuFault(Vector.DivideError);
                c.WriteGpr(RegEax, 2, q);
                c.WriteGpr(RegEdx, 2, n % src);
                break;
            }
            default:
            {
                ulong n = ((ulong)(uint)c._gpr[RegEdx] << 32) | (uint)c._gpr[RegEax];
                ulong q = n / src;
                if (q > 0xFFFF_FFFF) throw new CpuFault(Vector.DivideError);
                c._gpr[RegEax] = (uint)q;
                c._gpr[RegEdx] = (uint)(n % src);
                break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IdivOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint src = c.ReadOp(ref d, 0);
        if (src == 0) throw new CpuFault(Vector.DivideError);
        switch (d.OpSize)
        {
            case 1:
            {
                int n = (short)(uint)c._gpr[RegEax];
                int s = (sbyte)src;
                int q = n / s;
                if (q is > 127 or < -128) throw new CpuFault(Vector.DivideError);
                c.Ax = ((uint)q & 0xFF) | (((uint)(n % s) & 0xFF) << 8);
                break;
            }
            case 2:
            {
                int n = (int)(((uint)c._gpr[RegEdx] << 16) | ((uint)c._gpr[RegEax] & 0xFFFF));
                int s = (short)src;
                long q = (long)n / s;
                if (q is > 32767 or < -32768) throw new CpuFault(Vector.DivideError);
                c.WriteGpr(RegEax, 2, (uint)q);
                c.WriteGpr(RegEdx, 2, (uint)((long)n % s));
                break;
            }
            default:
            {
                Int128 n = (long)(((ulong)(uint)c._gpr[RegEdx] << 32) | (uint)c._gpr[RegEax]);
                Int128 s = (int)src;
                Int128 q = n / s;
                if (q > int.MaxValue || q < int.MinValue) throw new CpuFault(Vector.DivideError);
                c._gpr[RegEax] = (uint)(int)q;
                c._gpr[RegEdx] = (uint)(int)(n % s);
                break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cbw(InterpreterCpu c, ref DecodedOp d) => c.Ax = (uint)(sbyte)(uint)c._gpr[RegEax];
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cwde(InterpreterCpu c, ref DecodedOp d) => c._gpr[RegEax] = (uint)(short)(uint)c._gpr[RegEax];
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cwd(InterpreterCpu c, ref DecodedOp d) => c.WriteGpr(RegEdx, 2, ((uint)c._gpr[RegEax] & 0x8000) != 0 ? 0xFFFFu : 0);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cdq(InterpreterCpu c, ref DecodedOp d) => c._gpr[RegEdx] = ((uint)c._gpr[RegEax] & 0x8000_0000) != 0 ? 0xFFFF_FFFFu : 0;
}
