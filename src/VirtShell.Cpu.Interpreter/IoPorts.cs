using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// IN and OUT; INS/OUTS are in String.cs. Every access goes to the machine's IoPortBus.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] IoOps() =>
    [
        Op(Mnemonic.In, &In, CpuModes.LegacyAndLong), Op(Mnemonic.Out, &Out, CpuModes.LegacyAndLong),
    ];

    /// <summary>
    /// With CPL &gt; IOPL in protected mode, and always in virtual-8086 mode, the ports must be allowed by the I/O
    /// permission bitmap of the 32-bit TSS (a clear bit per port); otherwise, or beyond the TSS limit, #GP(0).
    /// </summary>
    private void CheckIoPrivilege(uint port, int size)
    {
        if (!ProtectedMode || (!V86 && Cpl <= Iopl)) return;
        if ((_tr.Attributes & 0x0D) != 0x09 || _tr.Limit < 0x67) throw new CpuFault(Vector.GeneralProtection, 0);
        uint at = ReadSystem(TssBase + 0x66, 2) + ((port & 0xFFFF) >> 3);
        if (at + 1 > _tr.Limit) throw new CpuFault(Vector.GeneralProtection, 0); // the CPU reads two bytes
        uint bits = ReadSystem(TssBase + at, 2) >> (int)(port & 7);
        if ((bits & ((1u << size) - 1)) != 0) throw new CpuFault(Vector.GeneralProtection, 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void In(InterpreterCpu c, ref DecodedOp d)
    {
        var acc = d.I.Op0Register;
        ushort port = (ushort)(d.I.Op1Kind == OpKind.Register ? (uint)c._gpr[RegEdx] : d.Imm & 0xFF);
        c.CheckIoPrivilege(port, acc.GetSize());
        c.WriteReg(acc, c._ports.Read(port, acc.GetSize()));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Out(InterpreterCpu c, ref DecodedOp d)
    {
        var acc = d.I.Op1Register;
        ushort port = (ushort)(d.I.Op0Kind == OpKind.Register ? (uint)c._gpr[RegEdx] : d.Imm & 0xFF);
        c.CheckIoPrivilege(port, acc.GetSize());
        c._ports.Write(port, acc.GetSize(), c.ReadReg(acc));
    }
}
