using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// JMP Jcc CALL RET RETF LOOP/LOOPE/LOOPNE JCXZ/JECXZ HLT.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] ControlFlowOps() =>
    [
        Op(Mnemonic.Jmp, &Jmp), Op(Mnemonic.Call, &Call), Op(Mnemonic.Ret, &Ret), Op(Mnemonic.Retf, &Retf),
        ..Ops(JccMnemonics, &Jcc), Op(Mnemonic.Loop, &Loop), Op(Mnemonic.Loope, &Loop), Op(Mnemonic.Loopne, &Loop),
        Op(Mnemonic.Jcxz, &Jcxz), Op(Mnemonic.Jecxz, &Jcxz), Op(Mnemonic.Hlt, &Hlt, CpuModes.LegacyAndLong),
    ];

    private void NearJump(uint target)
    {
        if (target > _segs[SegCs].Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        _eip = target;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Jcc(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.Condition(d.Cond)) c.NearJump(d.Imm);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Loop(InterpreterCpu c, ref DecodedOp d)
    {
        uint mask = d.AddrMask;
        uint count = ((uint)c._gpr[RegEcx] - 1) & mask;
        bool take = count != 0 && d.I.Mnemonic switch
        {
            Mnemonic.Loope => (c.Eflags & FlagZf) != 0,
            Mnemonic.Loopne => (c.Eflags & FlagZf) == 0,
            _ => true,
        };
        if (take && d.Imm > c._segs[SegCs].Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        c._gpr[RegEcx] = (c._gpr[RegEcx] & ~(ulong)mask) | count;
        if (take) c._eip = d.Imm;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Jcxz(InterpreterCpu c, ref DecodedOp d)
    {
        uint mask = d.I.Mnemonic == Mnemonic.Jecxz ? 0xFFFF_FFFFu : 0xFFFF;
        if (((uint)c._gpr[RegEcx] & mask) == 0) c.NearJump(d.Imm);
    }

    /// <summary>Reads a far pointer m16:16 or m16:32 at the memory operand.</summary>
    private (ushort Selector, uint Offset) ReadFarPointer(ref DecodedOp d)
    {
        int size = d.OpSize;
        uint addr = EffectiveAddress(ref d);
        uint offset = ReadMem(d.Seg, addr, size);
        uint selector = ReadMem16(d.Seg, (addr + (uint)size) & d.AddrMask);
        return ((ushort)selector, offset);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Jmp(InterpreterCpu c, ref DecodedOp d)
    {
        switch (d.I.Op0Kind)
        {
            case OpKind.NearBranch16 or OpKind.NearBranch32:
                c.NearJump(d.Imm);
                break;
            case OpKind.FarBranch16 or OpKind.FarBranch32:
                c.FarJump((ushort)d.Imm2, d.Imm, d.OpSize, call: false);
                break;
            default:
                if (d.I.IsJmpFarIndirect)
                {
                    var (sel, off) = c.ReadFarPointer(ref d);
                    c.FarJump(sel, off, d.OpSize, call: false);
                }
                else c.NearJump(c.ReadOp(ref d, 0) & SizeMask(d.OpSize));
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Call(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        switch (d.I.Op0Kind)
        {
            case OpKind.NearBranch16 or OpKind.NearBranch32:
                if (d.Imm > c._segs[SegCs].Limit) throw new CpuFault(Vector.GeneralProtection, 0);
                c.Push((uint)c._eip, size);
                c._eip = d.Imm;
                break;
            case OpKind.FarBranch16 or OpKind.FarBranch32:
                c.FarJump((ushort)d.Imm2, d.Imm, size, call: true);
                break;
            default:
                if (d.I.IsCallFarIndirect)
                {
                    var (sel, off) = c.ReadFarPointer(ref d);
                    c.FarJump(sel, off, size, call: true);
                }
                else
                {
                    uint target = c.ReadOp(ref d, 0) & SizeMask(size);
                    if (target > c._segs[SegCs].Limit) throw new CpuFault(Vector.GeneralProtection, 0);
                    c.Push((uint)c._eip, size);
                    c._eip = target;
                }
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Ret(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        uint target = c.PeekStack(0, size);
        if (target > c._segs[SegCs].Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        c.SetSp(c.Sp + (uint)size + (d.I.OpCount > 0 ? d.Imm & 0xFFFF : 0));
        c._eip = target;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Retf(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        uint offset = c.PeekStack(0, size);
        ushort selector = (ushort)c.PeekStack((uint)size, size);
        uint release = d.I.OpCount > 0 ? d.Imm & 0xFFFF : 0;
        if (c.ProtectedMode)
        {
            c.FarReturnProtected(selector, offset, size, release);
            return;
        }
        if (offset > c._segs[SegCs].Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        c.LoadSegmentReal(SegCs, selector);
        c._eip = offset;
        c.SetSp(c.Sp + 2 * (uint)size + release);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Hlt(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.ProtectedMode && c.Cpl != 0) throw new CpuFault(Vector.GeneralProtection, 0);
        c._halted = true;
        c._breakBlock = true;
    }
}
