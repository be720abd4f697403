using VirtShell.Cpu.Kvm;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Machines;
using Xunit;

namespace VirtShell.Tests.Engine;

/// <summary>
/// What a CPU exit is recorded as when it ends a run: a guest's power-off or reset is its own choice, not a crash
/// (the interpreter's triple fault, a crash, is in RealModeTests). The KVM exits go through the mapping of
/// KVM_EXIT_SYSTEM_EVENT, which needs no /dev/kvm.
/// </summary>
public sealed class CpuExitRecordTests
{
    private static string NoState() => throw new InvalidOperationException("a guest's own end carries no register dump");

    [Theory]
    [InlineData(KvmApi.SystemEventType.Shutdown, CpuExitReason.GuestPowerOff, ExitReason.GuestPowerOff, "KVM_SYSTEM_EVENT_SHUTDOWN")]
    [InlineData(KvmApi.SystemEventType.Reset, CpuExitReason.GuestReset, ExitReason.GuestReset, "KVM_SYSTEM_EVENT_RESET")]
    internal void A_kvm_power_off_or_reset_event_is_recorded_as_the_guests_own_end_not_a_crash(
        KvmApi.SystemEventType type, CpuExitReason cpuExit, ExitReason recorded, string named)
    {
        var exit = KvmExitDispatch.SystemEvent((uint)type);
        Assert.Equal(cpuExit, exit.Reason);
        var end = VirtualMachineRuntime.MachineExitFor(exit, NoState)!;
        Assert.Equal(recorded, end.Reason);
        Assert.False(end.IsCrash);
        Assert.Contains(named, end.Detail);
    }

    [Fact]
    public void A_kvm_crash_event_or_an_unknown_one_is_an_internal_error()
    {
        Assert.Equal(CpuExitReason.InternalError, KvmExitDispatch.SystemEvent((uint)KvmApi.SystemEventType.Crash).Reason);
        var unknown = KvmExitDispatch.SystemEvent(99);
        Assert.Equal(CpuExitReason.InternalError, unknown.Reason);
        Assert.Contains("99", unknown.Detail);
    }

    [Fact]
    public void Exit_requests_and_halts_do_not_end_the_run()
    {
        Assert.Null(VirtualMachineRuntime.MachineExitFor(new CpuExit(CpuExitReason.ExitRequested), NoState));
        Assert.Null(VirtualMachineRuntime.MachineExitFor(new CpuExit(CpuExitReason.Halted), NoState));
    }
}
