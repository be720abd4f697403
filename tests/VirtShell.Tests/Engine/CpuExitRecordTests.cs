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

    [Fact]
    public void A_kvm_system_event_shutdown_is_recorded_as_the_guest_powering_off_not_a_crash()
    {
        var exit = KvmCpu.SystemEvent((uint)KvmApi.SystemEventType.Shutdown);
        Assert.Equal(CpuExitReason.GuestPowerOff, exit.Reason);
        var end = VirtualMachineRuntime.MachineExitFor(exit, NoState)!;
        Assert.Equal(ExitReason.GuestPowerOff, end.Reason);
        Assert.False(end.IsCrash);
        Assert.Contains("KVM_SYSTEM_EVENT_SHUTDOWN", end.Detail);
    }

    [Fact]
    public void A_kvm_system_event_reset_is_recorded_as_a_guest_reset_not_a_crash()
    {
        var exit = KvmCpu.SystemEvent((uint)KvmApi.SystemEventType.Reset);
        Assert.Equal(CpuExitReason.GuestReset, exit.Reason);
        var end = VirtualMachineRuntime.MachineExitFor(exit, NoState)!;
        Assert.Equal(ExitReason.GuestReset, end.Reason);
        Assert.False(end.IsCrash);
        Assert.Contains("KVM_SYSTEM_EVENT_RESET", end.Detail);
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
