using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// SHL/SAL SHR SAR ROL ROR RCL RCR (count masked to 5 bits, as on the 80286 and later), SHLD SHRD.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] ShiftOps() =>
    [
        Op(Mnemonic.Shl, &ShlOp, CpuModes.LegacyAndLong), Op(Mnemonic.Sal, &ShlOp),
        Op(Mnemonic.Shr, &ShrOp, CpuModes.LegacyAndLong), Op(Mnemonic.Sar, &SarOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Rol, &RolOp, CpuModes.LegacyAndLong), Op(Mnemonic.Ror, &RorOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Rcl, &RclOp, CpuModes.LegacyAndLong), Op(Mnemonic.Rcr, &RcrOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Shld, &ShldOp, CpuModes.LegacyAndLong), Op(Mnemonic.Shrd, &ShrdOp, CpuModes.LegacyAndLong),
    ];

    /// <summary>The shift count: 1, CL or an immediate, masked to 5 bits (6 for a 64-bit operand).</summary>
    private uint ShiftCount(ref DecodedOp d, uint mask = 0x1F) => d.I.OpCount < 2 ? 1 : (d.I.Op1Kind == OpKind.Register ? (uint)_gpr[RegEcx] : d.Imm) & mask;

    private void SetShiftFlags(uint res, int size, uint cf, uint of) =>
        SetArith(Szp(res, size) | (cf & 1) | ((of & 1) << 11));

    /// <summary>
    /// SHL, SHR or SAR of <paramref name="a"/> (cut to the operand size) by 1-31: the result, and in
    /// <paramref name="arith"/> the six arithmetic flags they set (AF clear).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Shift(Mnemonic m, uint a, uint n, int size, out uint arith)
    {
        int bits = size * 8;
        uint res, cf, of;
        if (m == Mnemonic.Shl)
        {
            ulong wide = (ulong)a << (int)n;
            res = (uint)wide & SizeMask(size);
            cf = (uint)(wide >> bits) & 1;
            of = (res >> (bits - 1)) ^ cf;
        }
        else if (m == Mnemonic.Shr)
        {
            res = (uint)((ulong)a >> (int)n);
            cf = (uint)((ulong)a >> (int)(n - 1)) & 1;
            // OF is the original sign for a 1-bit shift; for longer shifts the hardware yields the same formula on the result.
            of = (res >> (bits - 1)) ^ (res >> (bits - 2));
        }
        else
        {
            long s = size switch { 1 => (sbyte)a, 2 => (short)a, _ => (int)a };
            res = (uint)(s >> (int)n) & SizeMask(size);
            cf = (uint)(s >> (int)(n - 1)) & 1;
            of = 0;
        }
        arith = Szp(res, size) | (cf & 1) | ((of & 1) << 11);
        return res;
    }

    /// <summary>ROL or ROR of <paramref name="a"/> by a count of 1-31: the result, and in <paramref name="cfOf"/> the CF and OF bits they set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Rotate(bool left, uint a, uint n, int size, out uint cfOf)
    {
        int bits = size * 8;
        int r = (int)(n & (uint)(bits - 1));
        uint res, cf, of;
        if (left)
        {
            res = r == 0 ? a : ((a << r) | (a >> (bits - r))) & SizeMask(size);
            cf = res & 1;
            of = (res >> (bits - 1)) ^ cf;
        }
        else
        {
            res = r == 0 ? a : ((a >> r) | (a << (bits - r))) & SizeMask(size);
            cf = (res >> (bits - 1)) & 1;
            of = (res >> (bits - 1)) ^ (res >> (bits - 2));
        }
        cfOf = cf | ((of & 1) << 11);
        return res;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShlOp(InterpreterCpu c, ref DecodedOp d) => c.ShiftOp(ref d, Mnemonic.Shl);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShrOp(InterpreterCpu c, ref DecodedOp d) => c.ShiftOp(ref d, Mnemonic.Shr);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SarOp(InterpreterCpu c, ref DecodedOp d) => c.ShiftOp(ref d, Mnemonic.Sar);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ShiftOp(ref DecodedOp d, Mnemonic m)
    {
        uint a = ReadDst(ref d);
        uint n = ShiftCount(ref d);
        if (n == 0) return;
        uint res = Shift(m, a, n, d.OpSize, out uint arith);
        SetArith(arith);
        WriteDst(ref d, res);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RolOp(InterpreterCpu c, ref DecodedOp d) => c.RotateOp(ref d, left: true);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RorOp(InterpreterCpu c, ref DecodedOp d) => c.RotateOp(ref d, left: false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RotateOp(ref DecodedOp d, bool left)
    {
        uint a = ReadDst(ref d);
        uint n = ShiftCount(ref d);
        if (n == 0) return;
        uint res = Rotate(left, a, n, d.OpSize, out uint cfOf);
        Eflags = (Eflags & ~(FlagCf | FlagOf)) | cfOf;
        WriteDst(ref d, res);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RclOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d);
        uint n = c.ShiftCount(ref d);
        if (n == 0) return;
        int size = d.OpSize, bits = size * 8;
        uint mask = SizeMask(size);
        uint cf = c.Eflags & FlagCf;
        for (uint k = n % (uint)(bits + 1); k > 0; k--)
        {
            uint out_ = (a >> (bits - 1)) & 1;
            a = ((a << 1) | cf) & mask;
            cf = out_;
        }
        c.Eflags = (c.Eflags & ~(FlagCf | FlagOf)) | cf | ((((a >> (bits - 1)) ^ cf) & 1) << 11);
        c.WriteDst(ref d, a);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RcrOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d);
        uint n = c.ShiftCount(ref d);
        if (n == 0) return;
        int size = d.OpSize, bits = size * 8;
        uint cf = c.Eflags & FlagCf;
        for (uint k = n % (uint)(bits + 1); k > 0; k--)
        {
            uint out_ = a & 1;
            a = (a >> 1) | (cf << (bits - 1));
            cf = out_;
        }
        c.Eflags = (c.Eflags & ~(FlagCf | FlagOf)) | cf | ((((a >> (bits - 1)) ^ (a >> (bits - 2))) & 1) << 11);
        c.WriteDst(ref d, a);
    }

    private uint DoubleShiftCount(ref DecodedOp d) => (d.I.Op2Kind == OpKind.Register ? (uint)_gpr[RegEcx] : d.Imm) & 0x1F;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShldOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d);
        uint b = c.ReadOp(ref d, 1);
        int n = (int)c.DoubleShiftCount(ref d);
        if (n == 0) return;
        int size = d.OpSize, bits = size * 8;
        // Concatenate dest:src (and for 16-bit operands, repeat src as the hardware does for counts above 16).
        ulong cat = size == 4 ? ((ulong)a << 32) | b : ((ulong)a << 48) | ((ulong)b << 32) | ((ulong)a << 16) | b;
        ulong shifted = cat << n;
        uint res = (uint)(shifted >> (64 - bits)) & SizeMask(size);
        uint cf = (uint)(cat >> (64 - n)) & 1;
        c.SetShiftFlags(res, size, cf, (res >> (bits - 1)) ^ (a >> (bits - 1)));
        c.WriteDst(ref d, res);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShrdOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d);
        uint b = c.ReadOp(ref d, 1);
        int n = (int)c.DoubleShiftCount(ref d);
        if (n == 0) return;
        int size = d.OpSize, bits = size * 8;
        ulong cat = size == 4 ? ((ulong)b << 32) | a : ((ulong)b << 48) | ((ulong)a << 32) | ((ulong)b << 16) | a;
        uint res = (uint)(cat >> n) & SizeMask(size);
        uint cf = (uint)(cat >> (n - 1)) & 1;
        c.SetShiftFlags(res, size, cf, (res >> (bits - 1)) ^ (a >> (bits - 1)));
        c.WriteDst(ref d, res);
    }
}
