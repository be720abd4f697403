using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// BT BTS BTR BTC BSF BSR, and TZCNT/LZCNT as the BSF/BSR they are on this CPU.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] BitOps() =>
    [
        Op(Mnemonic.Bt, &BitTest), Op(Mnemonic.Bts, &BitTest), Op(Mnemonic.Btr, &BitTest), Op(Mnemonic.Btc, &BitTest),
        Op(Mnemonic.Bsf, &Bsf), Op(Mnemonic.Bsr, &Bsr),
        // F3 0F BC/BD are TZCNT/LZCNT only where CPUID claims BMI1/ABM; before those, the F3 prefix is ignored and
        // they run as BSF/BSR. CPUID here claims neither, and GCC relies on it, emitting "rep bsf" for __ffs.
        Op(Mnemonic.Tzcnt, &Bsf).As(Mnemonic.Bsf), Op(Mnemonic.Lzcnt, &Bsr).As(Mnemonic.Bsr),
        ..Ops([Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc], &BitTest64, CpuModes.Long64),
        Op(Mnemonic.Bsf, &BitScan64, CpuModes.Long64), Op(Mnemonic.Bsr, &BitScan64, CpuModes.Long64),
        Op(Mnemonic.Tzcnt, &BitScan64, CpuModes.Long64).As(Mnemonic.Bsf),
        Op(Mnemonic.Lzcnt, &BitScan64, CpuModes.Long64).As(Mnemonic.Bsr),
    ];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BitTest(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize, bits = size * 8;
        bool regOffset = d.I.Op1Kind == OpKind.Register;
        uint offset = regOffset ? c.ReadOp(ref d, 1) : d.Imm & 0xFF;
        uint value, bit;
        bool memory = d.I.Op0Kind == OpKind.Memory;
        if (memory && regOffset)
        {
            // A register bit offset is signed and may address memory outside the operand.
            int signed = size == 2 ? (short)offset : (int)offset;
            int unit = signed >> (size == 2 ? 4 : 5);
            uint addr = (c.EffectiveAddress(ref d) + (uint)(unit * size)) & d.AddrMask;
            c._dstLinear = d.I.Mnemonic == Mnemonic.Bt ? c.Linear(d.Seg, addr, size) : c.LinearWrite(d.Seg, addr, size);
            value = c.ReadLinear(c._dstLinear, size);
            bit = (uint)signed & (uint)(bits - 1);
        }
        else
        {
            value = c.ReadDst(ref d);
            bit = offset & (uint)(bits - 1);
        }
        uint cf = (value >> (int)bit) & 1;
        c.Eflags = (c.Eflags & ~FlagCf) | cf;
        uint res = d.I.Mnemonic switch
        {
            Mnemonic.Bts => value | (1u << (int)bit),
            Mnemonic.Btr => value & ~(1u << (int)bit),
            Mnemonic.Btc => value ^ (1u << (int)bit),
            _ => value,
        };
        if (d.I.Mnemonic == Mnemonic.Bt) return;
        if (memory) c.WriteLinear(c._dstLinear, size, res);
        else c.WriteReg(d.I.Op0Register, res);
    }

    /// <summary>
    /// BT/BTS/BTR/BTC in 64-bit mode, any operand size: a register bit offset into memory is signed and may address
    /// memory outside the operand (in operand-size units), with 64-bit effective addresses.
    /// </summary>
    private static void BitTest64(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize, bits = size * 8;
        bool regOffset = d.I.Op1Kind == OpKind.Register;
        ulong offset = regOffset ? c._gpr[d.Reg1] : d.Imm & 0xFF;
        bool memory = d.I.Op0Kind == OpKind.Memory;
        int bit;
        ulong value;
        if (memory)
        {
            ulong ea = c.EffectiveAddress64(ref d);
            if (regOffset)
            {
                long signed = size switch { 2 => (short)offset, 4 => (int)offset, _ => (long)offset };
                ea += (ulong)((signed >> System.Numerics.BitOperations.Log2((uint)bits)) * size);
                if (d.Addr32) ea = (uint)ea;
                bit = (int)(signed & (bits - 1));
            }
            else bit = (int)(offset & (uint)(bits - 1));
            if (d.Seg is SegFs or SegGs) ea += c.FsGsBase(d.Seg);
            CheckCanonical(ea, size, d.Seg);
            c._dstLinear = ea;
            value = size == 8 ? c.ReadLinear64(ea) : c.ReadLinear(ea, size);
        }
        else
        {
            value = c._gpr[d.Reg0] & (size == 8 ? ulong.MaxValue : SizeMask(size));
            bit = (int)(offset & (uint)(bits - 1));
        }
        c.Eflags = (c.Eflags & ~FlagCf) | (uint)((value >> bit) & 1);
        ulong res = d.I.Mnemonic switch
        {
            Mnemonic.Bts => value | (1UL << bit),
            Mnemonic.Btr => value & ~(1UL << bit),
            Mnemonic.Btc => value ^ (1UL << bit),
            _ => value,
        };
        if (d.I.Mnemonic == Mnemonic.Bt) return;
        if (memory)
        {
            if (size == 8) c.WriteLinear64(c._dstLinear, res);
            else c.WriteLinear(c._dstLinear, size, (uint)res);
        }
        else if (size == 8) c._gpr[d.Reg0] = res;
        else c.WriteGprAt(d.Loc0, d.Reg0, (uint)res);
    }

    /// <summary>
    /// BSF/BSR in 64-bit mode, any operand size; a zero source sets ZF and leaves the destination alone. CPUID claims
    /// no BMI1/ABM, so TZCNT and LZCNT (F3 0F BC/BD) are BSF and BSR with an ignored REP, as on such CPUs.
    /// </summary>
    private static void BitScan64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong v = d.OpSize == 8 ? c.ReadOp64(ref d, 1) : c.ReadOp(ref d, 1) & SizeMask(d.OpSize);
        if (v == 0) { c.Eflags |= FlagZf; return; }
        c.Eflags &= ~FlagZf;
        uint index = (uint)(d.I.Mnemonic is Mnemonic.Bsf or Mnemonic.Tzcnt
            ? System.Numerics.BitOperations.TrailingZeroCount(v)
            : System.Numerics.BitOperations.Log2(v));
        if (d.OpSize == 8) c._gpr[d.Reg0] = index;
        else c.WriteGprAt(d.Loc0, d.Reg0, index);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bsf(InterpreterCpu c, ref DecodedOp d)
    {
        uint v = c.ReadOp(ref d, 1) & SizeMask(d.OpSize);
        if (v == 0) { c.Eflags |= FlagZf; return; }
        c.Eflags &= ~FlagZf;
        c.WriteReg(d.I.Op0Register, (uint)System.Numerics.BitOperations.TrailingZeroCount(v));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bsr(InterpreterCpu c, ref DecodedOp d)
    {
        uint v = c.ReadOp(ref d, 1) & SizeMask(d.OpSize);
        if (v == 0) { c.Eflags |= FlagZf; return; }
        c.Eflags &= ~FlagZf;
        c.WriteReg(d.I.Op0Register, (uint)System.Numerics.BitOperations.Log2(v));
    }
}
