using VirtShell.Cpu.Kvm;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;

namespace VirtShell.Models.Hardware;

/// <summary>
/// The shared VM run loop, counting what KVM can count: exits by kind, not instructions (the CPU runs them
/// unobserved).
/// </summary>
internal sealed class HardwareRuntime(VirtualMachineRuntime inner, KvmCpu cpu) : IMachineRuntime
{
    public MachineExit Run() => inner.Run();
    public void RequestStop(MachineExit exit) => inner.RequestStop(exit);
    public bool RequestShutdown() => inner.RequestShutdown();
    public void Pause() => inner.Pause();
    public void Resume() => inner.Resume();
    public GuestMemory? Memory => inner.Memory;

    public IReadOnlyDictionary<string, long> Counters => new Dictionary<string, long>
    {
        ["Exits"] = cpu.Exits,
        ["IoExits"] = cpu.IoExits,
        ["MmioExits"] = cpu.MmioExits,
    };

    public void Dispose() => inner.Dispose();
}
