using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// BT BTS BTR BTC BSF BSR, and TZCNT/LZCNT as the BSF/BSR they are on this CPU.
public sealed unsafe partial class InterpreterCpu
{
    private static void RegisterBitOps()
    {
        Register(Mnemonic.Bt, &BitTest); Register(Mnemonic.Bts, &BitTest); Register(Mnemonic.Btr, &BitTest);
        Register(Mnemonic.Btc, &BitTest); Register(Mnemonic.Bsf, &Bsf); Register(Mnemonic.Bsr, &Bsr);
        // F3 0F BC/BD are TZCNT/LZCNT only where CPUID claims BMI1/ABM; before those, the F3 prefix is ignored and
        // they run as BSF/BSR. CPUID here claims neither, and GCC relies on it, emitting "rep bsf" for __ffs.
        Register(Mnemonic.Tzcnt, &Bsf); Register(Mnemonic.Lzcnt, &Bsr);
    }

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
            c._dstLinear = c.Linear(d.Seg, addr, size);
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

    private static void Bsf(InterpreterCpu c, ref DecodedOp d)
    {
        uint v = c.ReadOp(ref d, 1) & SizeMask(d.OpSize);
        if (v == 0) { c.Eflags |= FlagZf; return; }
        c.Eflags &= ~FlagZf;
        c.WriteReg(d.I.Op0Register, (uint)System.Numerics.BitOperations.TrailingZeroCount(v));
    }

    private static void Bsr(InterpreterCpu c, ref DecodedOp d)
    {
        uint v = c.ReadOp(ref d, 1) & SizeMask(d.OpSize);
        if (v == 0) { c.Eflags |= FlagZf; return; }
        c.Eflags &= ~FlagZf;
        c.WriteReg(d.I.Op0Register, (uint)System.Numerics.BitOperations.Log2(v));
    }
}
