using VirtShell.Engine.Cpu;

namespace VirtShell.Pc;

/// <summary>An x86 CPU backend (the interpreter, KVM): its architectural state as the backend-neutral <see cref="CpuState"/>.</summary>
public interface IX86Cpu : IVirtualCpu
{
    /// <summary>A copy of the architectural state; only while <see cref="IVirtualCpu.Run"/> is not running.</summary>
    CpuState GetState();

    /// <summary>
    /// Loads <paramref name="state"/> (all of it, FPU included); only while <see cref="IVirtualCpu.Run"/> is not running.
    /// </summary>
    void SetState(CpuState state);

    string IVirtualCpu.DumpState() => GetState().Dump();
}
