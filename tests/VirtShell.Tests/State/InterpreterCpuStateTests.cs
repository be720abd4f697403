using Iced.Intel;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.State;
using VirtShell.Tests.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.State;

/// <summary>The interpreter's section: registers, x87, MSRs and the halt survive a round trip into a fresh CPU.</summary>
public class InterpreterCpuStateTests
{
    [Fact]
    public void A_halted_CPU_with_x87_values_an_MSR_and_a_debug_register_comes_back_whole()
    {
        using var first = new TestMachine();
        first.Load16(a =>
        {
            a.mov(eax, 0x12345678u);
            a.mov(ecx, 0x174);          // IA32_SYSENTER_CS
            a.mov(edx, 0);
            a.wrmsr();
            a.mov(eax, 0x8000u);
            a.mov(dr0, eax);
            a.fninit();
            a.fld1();
            a.fldpi();
            a.mov(esi, 0xCAFEu);
            a.cli();
            a.hlt();
        });
        Assert.Equal(CpuExitReason.Halted, first.Cpu.Run().Reason);
        var writer = new StateWriter();
        first.Cpu.SaveState(writer);

        using var second = new TestMachine();
        var reader = new StateReader("cpu", writer.Written.ToArray());
        second.Cpu.RestoreState(reader);
        reader.End();
        var (before, after) = (first.Cpu.GetState(), second.Cpu.GetState());
        Assert.Equal(before.Dump(), after.Dump());
        Assert.Equal(before.Fpu.St, after.Fpu.St);
        Assert.Equal(before.Rip, after.Rip);
        // Still halted, interrupts off: the restored CPU waits rather than run what follows the HLT.
        Assert.Equal(CpuExitReason.Halted, second.Cpu.Run().Reason);
        Assert.Equal(before.Rip, second.Cpu.GetState().Rip);

        // The MSR and DR0 are read back by code run on the restored CPU.
        second.Load16(a =>
        {
            a.mov(ecx, 0x174);
            a.rdmsr();
            a.mov(ebx, dr0);
            a.hlt();
        });
        var reloaded = new StateReader("cpu", writer.Written.ToArray());
        second.Cpu.RestoreState(reloaded);   // the same state again, then run the new code from its start
        var state = second.Cpu.GetState();
        state.Rip = 0;
        state.Cs = SegmentState.Real(TestMachine.CodeSegment, code: true);
        second.Cpu.SetState(state);
        second.Cpu.Run();
        Assert.Equal(0x12345678UL, second.Cpu.GetState().Rax);
        Assert.Equal(0x8000UL, second.Cpu.GetState().Rbx);
    }

    [Fact]
    public void DR7_arming_a_data_breakpoint_is_refused_as_a_state_the_CPU_never_has()
    {
        using var machine = new TestMachine();
        var writer = new StateWriter();
        machine.Cpu.SaveState(writer);
        byte[] bytes = writer.Written.ToArray();
        // DR7 is the 4 bytes before the last (the A20 mask): arm DR0 (L0) as a write breakpoint (R/W0 = 01).
        BitConverter.TryWriteBytes(bytes.AsSpan(bytes.Length - 8), 0x0001_0401u);
        var e = Assert.Throws<StateFormatException>(() => new TestMachine().Cpu.RestoreState(new StateReader("cpu", bytes)));
        Assert.Contains("DR7 arms DR0 as a data or I/O breakpoint", e.Message);
    }
}
