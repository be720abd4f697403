using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// AND OR XOR NOT TEST: CF = OF = 0, AF cleared (undefined on hardware), SF ZF PF from the result.
public sealed unsafe partial class InterpreterCpu
{
    private static void RegisterLogical()
    {
        Register(Mnemonic.And, &AndOp); Register(Mnemonic.Or, &OrOp); Register(Mnemonic.Xor, &XorOp);
        Register(Mnemonic.Not, &NotOp); Register(Mnemonic.Test, &TestOp);
    }

    private uint Logic(uint res, int size)
    {
        res &= SizeMask(size);
        SetLazy(LazyOp.Logic, res, 0, 0, size);
        return res;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AndOp(InterpreterCpu c, ref DecodedOp d) { uint a = c.ReadDst(ref d); c.WriteDst(ref d, c.Logic(a & c.ReadOp(ref d, 1), d.OpSize)); }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OrOp(InterpreterCpu c, ref DecodedOp d) { uint a = c.ReadDst(ref d); c.WriteDst(ref d, c.Logic(a | c.ReadOp(ref d, 1), d.OpSize)); }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void XorOp(InterpreterCpu c, ref DecodedOp d) { uint a = c.ReadDst(ref d); c.WriteDst(ref d, c.Logic(a ^ c.ReadOp(ref d, 1), d.OpSize)); }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NotOp(InterpreterCpu c, ref DecodedOp d) => c.WriteDst(ref d, ~c.ReadDst(ref d) & SizeMask(d.OpSize));
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TestOp(InterpreterCpu c, ref DecodedOp d) => c.Logic(c.ReadOp(ref d, 0) & c.ReadOp(ref d, 1), d.OpSize);
}
