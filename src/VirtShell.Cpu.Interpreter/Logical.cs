using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// AND OR XOR NOT TEST: CF = OF = 0, AF cleared (undefined on hardware), SF ZF PF from the result.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] LogicalOps() =>
    [
        Op(Mnemonic.And, &AndOp, CpuModes.LegacyAndLong), Op(Mnemonic.Or, &OrOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Xor, &XorOp, CpuModes.LegacyAndLong), Op(Mnemonic.Not, &NotOp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Test, &TestOp, CpuModes.LegacyAndLong),
    ];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AndOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint res = (c.ReadDst(ref d) & c.ReadOp(ref d, 1)) & SizeMask(d.OpSize);
        c.WriteDst(ref d, res); // first: a store that faults leaves the flags as they were
        c.Logic(res, d.OpSize);
    }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OrOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint res = (c.ReadDst(ref d) | c.ReadOp(ref d, 1)) & SizeMask(d.OpSize);
        c.WriteDst(ref d, res); // first: a store that faults leaves the flags as they were
        c.Logic(res, d.OpSize);
    }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void XorOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint res = (c.ReadDst(ref d) ^ c.ReadOp(ref d, 1)) & SizeMask(d.OpSize);
        c.WriteDst(ref d, res); // first: a store that faults leaves the flags as they were
        c.Logic(res, d.OpSize);
    }
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NotOp(InterpreterCpu c, ref DecodedOp d) => c.WriteDst(ref d, ~c.ReadDst(ref d) & SizeMask(d.OpSize));
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TestOp(InterpreterCpu c, ref DecodedOp d) => c.Logic(c.ReadOp(ref d, 0) & c.ReadOp(ref d, 1), d.OpSize);
}
