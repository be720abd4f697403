using VirtShell.Cpu.Kvm;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;

namespace VirtShell.Models.Hardware;

/// <summary>
/// The shared VM run loop, counting what KVM can count: exits, not instructions (the CPU runs them unobserved) nor
/// halts (they wait in the kernel).
/// </summary>
internal sealed class HardwareRuntime(VirtualMachineRuntime inner, KvmCpu cpu) : IMachineRuntime
{
    public MachineExit Run() => inner.Run();
    public void RequestStop(MachineExit exit) => inner.RequestStop(exit);
    public bool RequestGracefulStop() => inner.RequestGracefulStop();
    public void Pause() => inner.Pause();
    public void Resume() => inner.Resume();
    public GuestMemory? Memory => inner.Memory;

    public MachineCounters Measure() => inner.Measure() with { Instructions = null, HaltExits = null, Exits = cpu.Exits };

    public void Dispose() => inner.Dispose();
}
