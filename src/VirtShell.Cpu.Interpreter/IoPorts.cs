using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// IN and OUT; INS/OUTS are in String.cs. Every access goes to the machine's IoPortBus.
public sealed unsafe partial class InterpreterCpu
{
    private static void RegisterIo()
    {
        Register(Mnemonic.In, &In);
        Register(Mnemonic.Out, &Out);
    }

    /// <summary>In protected mode with CPL &gt; IOPL port access faults (the TSS permission bitmap is not consulted).</summary>
    private void CheckIoPrivilege()
    {
        if (ProtectedMode && Cpl > ((Eflags >> 12) & 3)) throw new CpuFault(Vector.GeneralProtection, 0);
    }

    private static void In(InterpreterCpu c, ref DecodedOp d)
    {
        c.CheckIoPrivilege();
        var acc = d.I.Op0Register;
        ushort port = (ushort)(d.I.Op1Kind == OpKind.Register ? c._gpr[RegEdx] : d.Imm & 0xFF);
        c.WriteReg(acc, c._ports.Read(port, acc.GetSize()));
    }

    private static void Out(InterpreterCpu c, ref DecodedOp d)
    {
        c.CheckIoPrivilege();
        var acc = d.I.Op1Register;
        ushort port = (ushort)(d.I.Op0Kind == OpKind.Register ? c._gpr[RegEdx] : d.Imm & 0xFF);
        c._ports.Write(port, acc.GetSize(), c.ReadReg(acc));
    }
}
