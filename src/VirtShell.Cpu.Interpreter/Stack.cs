using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// PUSH POP PUSHA POPA ENTER LEAVE and the stack primitives (SS:SP or SS:ESP by SS.B).
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] StackOps() =>
    [
        Op(Mnemonic.Push, &PushOp), Op(Mnemonic.Pop, &PopOp), Op(Mnemonic.Pusha, &Pusha), Op(Mnemonic.Pushad, &Pusha),
        Op(Mnemonic.Popa, &Popa), Op(Mnemonic.Popad, &Popa), Op(Mnemonic.Enter, &Enter), Op(Mnemonic.Leave, &Leave),
    ];

    private uint StackMask => _stack32 ? 0xFFFF_FFFFu : 0xFFFF;
    private uint Sp => (uint)_gpr[RegEsp] & StackMask;

    private void SetSp(uint value) => SetSp(value, _stack32);

    private void SetSp(uint value, bool stack32) =>
        _gpr[RegEsp] = stack32 ? value : (_gpr[RegEsp] & ~0xFFFFUL) | (value & 0xFFFF);

    private void Push(uint value, int size)
    {
        uint sp = (Sp - (uint)size) & StackMask;
        WriteMem(SegSs, sp, size, value);
        SetSp(sp);
    }

    private void Push16(uint value) => Push(value, 2);
    private void Push32(uint value) => Push(value, 4);

    private uint Pop(int size)
    {
        uint sp = Sp;
        uint v = ReadMem(SegSs, sp, size);
        SetSp(sp + (uint)size);
        return v;
    }

    private uint Pop16() => Pop(2);
    private uint Pop32() => Pop(4);

    /// <summary>The value at SS:SP+<paramref name="offset"/> without popping (for instructions that must not change SP before they can fault).</summary>
    private uint PeekStack(uint offset, int size) => ReadMem(SegSs, (Sp + offset) & StackMask, size);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PushOp(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        c.Push(c.ReadOp(ref d, 0), size);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PopOp(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        if (d.I.Op0Kind == OpKind.Register)
        {
            var r = d.I.Op0Register;
            if (r.IsSegmentRegister())
            {
                uint sel = c.PeekStack(0, size);
                // The pop belongs to the old stack: POP SS advances SP by the B bit of the SS it replaces.
                bool stack32 = c._stack32;
                uint next = (c.Sp + (uint)size) & c.StackMask;
                c.WriteReg(r, sel & 0xFFFF);
                c.SetSp(next, stack32);
                if (r == Iced.Intel.Register.SS) c._interruptShadow = c._ssShadow = true;
                return;
            }
            c.WriteReg(r, c.Pop(size));
            return;
        }
        uint v = c.PeekStack(0, size);
        // POP [ESP+x] computes the address with ESP already incremented.
        uint oldEsp = (uint)c._gpr[RegEsp];
        c.SetSp(c.Sp + (uint)size);
        try
        {
            c.WriteMem(d.Seg, c.EffectiveAddress(ref d), size, v);
        }
        catch (CpuFault)
        {
            c._gpr[RegEsp] = oldEsp;
            throw;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pusha(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        uint sp = c.Sp, mask = c.StackMask;
        // Check every slot first (SP wraps inside the segment) so a fault leaves SP and memory untouched.
        for (uint k = 1; k <= 8; k++) c.LinearWrite(SegSs, (sp - k * (uint)size) & mask, size);
        uint origSp = (uint)c._gpr[RegEsp];
        for (int r = RegEax; r <= RegEdi; r++)
            c.Push(r == RegEsp ? origSp : (uint)c._gpr[r], size);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Popa(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        for (uint k = 0; k < 8; k++) c.Linear(SegSs, (c.Sp + k * (uint)size) & c.StackMask, size);
        for (int r = RegEdi; r >= RegEax; r--)
        {
            uint v = c.Pop(size);
            if (r != RegEsp) c.WriteGpr(r, size, v);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Enter(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        uint frameSize = d.Imm & 0xFFFF;
        int level = (int)(d.Imm2 & 0x1F);
        uint mask = c.StackMask;
        uint savedEsp = (uint)c._gpr[RegEsp], savedEbp = (uint)c._gpr[RegEbp];
        try
        {
            c.Push((uint)c._gpr[RegEbp], size);
            // On a 16-bit stack the new frame pointer is SP in BP: a 32-bit one keeps EBP's upper half, pushed and loaded alike.
            uint frameTemp = c._stack32 ? c.Sp : ((uint)c._gpr[RegEbp] & 0xFFFF_0000) | c.Sp;
            if (level > 0)
            {
                uint bp = (uint)c._gpr[RegEbp] & mask;
                for (int k = 1; k < level; k++)
                {
                    bp = (bp - (uint)size) & mask;
                    c.Push(c.ReadMem(SegSs, bp, size), size);
                }
                c.Push(frameTemp, size);
            }
            uint newSp = (c.Sp - frameSize) & mask;
            // The CPU probes the final stack pointer as a write: a page fault there comes before any register changes.
            uint final = c.LinearWrite(SegSs, newSp, 1);
            if (c._paging) c.Translate(final, write: true);
            c.WriteGpr(RegEbp, size, frameTemp);
            c.SetSp(newSp);
        }
        catch (CpuFault)
        {
            c._gpr[RegEsp] = savedEsp;
            c._gpr[RegEbp] = savedEbp;
            throw;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Leave(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        uint bp = (uint)c._gpr[RegEbp] & c.StackMask;
        uint v = c.ReadMem(SegSs, bp, size);
        c.SetSp(bp + (uint)size);
        c.WriteGpr(RegEbp, size, v);
    }
}
