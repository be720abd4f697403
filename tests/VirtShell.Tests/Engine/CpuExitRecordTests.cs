using VirtShell.Cpu.Kvm;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Machines;
using VirtShell.Tests.Cpu;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Engine;

/// <summary>
/// What a CPU exit is recorded as when it ends a run: a guest's power-off or reset is its own choice, a triple fault
/// is a crash. The KVM half goes through the mapping of KVM_EXIT_SYSTEM_EVENT, which needs no /dev/kvm.
/// </summary>
public sealed class CpuExitRecordTests
{
    private static CpuState NoState() => throw new InvalidOperationException("a guest's own end carries no register dump");

    [Theory]
    [InlineData(KvmApi.SystemEventType.Shutdown, CpuExitReason.GuestPowerOff, ExitReason.GuestPowerOff, "KVM_SYSTEM_EVENT_SHUTDOWN")]
    [InlineData(KvmApi.SystemEventType.Reset, CpuExitReason.GuestReset, ExitReason.GuestReset, "KVM_SYSTEM_EVENT_RESET")]
    internal void A_kvm_power_off_or_reset_event_is_recorded_as_the_guests_own_end_not_a_crash(
        KvmApi.SystemEventType type, CpuExitReason cpuExit, ExitReason recorded, string named)
    {
        var exit = KvmCpu.SystemEvent((uint)type);
        Assert.Equal(cpuExit, exit.Reason);
        var end = VirtualMachineRuntime.MachineExitFor(exit, NoState)!;
        Assert.Equal(recorded, end.Reason);
        Assert.False(end.IsCrash);
        Assert.Contains(named, end.Detail);
    }

    [Fact]
    public void A_kvm_crash_event_or_an_unknown_one_is_an_internal_error()
    {
        Assert.Equal(CpuExitReason.InternalError, KvmCpu.SystemEvent((uint)KvmApi.SystemEventType.Crash).Reason);
        var unknown = KvmCpu.SystemEvent(99);
        Assert.Equal(CpuExitReason.InternalError, unknown.Reason);
        Assert.Contains("99", unknown.Detail);
    }

    [Fact]
    public void The_interpreters_triple_fault_is_recorded_as_a_triple_fault_crash_with_the_registers()
    {
        using var m = new TestMachine();
        m.Memory.Write(0x10800, new byte[6]); // IDTR limit 0, base 0: the breakpoint cannot be delivered
        m.Load16(a => { a.lidt(__[0x800]); a.int3(); });
        var exit = m.Cpu.Run();
        Assert.Equal(CpuExitReason.TripleFault, exit.Reason);
        var end = VirtualMachineRuntime.MachineExitFor(exit, m.Cpu.GetState)!;
        Assert.Equal(ExitReason.TripleFault, end.Reason);
        Assert.True(end.IsCrash);
        Assert.Contains(m.Cpu.GetState().Dump().Split('\n')[0], end.Detail);
    }

    [Fact]
    public void Exit_requests_and_halts_do_not_end_the_run()
    {
        Assert.Null(VirtualMachineRuntime.MachineExitFor(new CpuExit(CpuExitReason.ExitRequested), NoState));
        Assert.Null(VirtualMachineRuntime.MachineExitFor(new CpuExit(CpuExitReason.Halted), NoState));
    }
}
