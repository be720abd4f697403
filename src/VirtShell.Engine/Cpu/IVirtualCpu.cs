namespace VirtShell.Engine.Cpu;

/// <summary>Why <see cref="IVirtualCpu.Run"/> returned.</summary>
public enum CpuExitReason
{
    /// <summary>Another thread called <see cref="IVirtualCpu.RequestExit"/>.</summary>
    ExitRequested,
    /// <summary>HLT with nothing to deliver: the runtime waits for a wake-up, then runs again.</summary>
    Halted,
    /// <summary>Triple fault (the processor's shutdown cycle): the guest took an exception it could not deliver; a crash.</summary>
    TripleFault,
    /// <summary>The guest turned the machine off through the platform (KVM_SYSTEM_EVENT_SHUTDOWN).</summary>
    GuestPowerOff,
    /// <summary>The guest reset the machine through the platform (KVM_SYSTEM_EVENT_RESET); the run ends, as with <c>qemu -no-reboot</c>.</summary>
    GuestReset,
    /// <summary>The backend could not go on (an emulation limit, a KVM internal error).</summary>
    InternalError,
}

/// <summary>What ended a <see cref="IVirtualCpu.Run"/>.</summary>
/// <param name="Reason">Why it returned.</param>
/// <param name="Detail">For errors, what happened, in words for the crash record; null otherwise.</param>
public sealed record CpuExit(CpuExitReason Reason, string? Detail = null);

/// <summary>
/// One virtual CPU of any architecture, run by one thread: what the engine's run loop, the saved-state capture and
/// the crash record need. Port and MMIO accesses go to the machine's buses from inside <see cref="Run"/>; only what
/// the machine itself must act on comes back as an exit. A backend's registers are its own: the x86 backends also
/// implement <c>VirtShell.Pc.IX86Cpu</c>, and a platform sets its CPU's start state through the backend's own type.
/// </summary>
public interface IVirtualCpu : IDisposable
{
    /// <summary>
    /// Runs the guest on the calling thread until something the machine must act on; call again to go on.
    /// </summary>
    CpuExit Run();

    /// <summary>Thread-safe: makes <see cref="Run"/> return <see cref="CpuExitReason.ExitRequested"/> at the next instruction boundary.</summary>
    void RequestExit();

    /// <summary>A register dump in the architecture's own terms, for crash records.</summary>
    string DumpState();

    /// <summary>Guest instructions retired since creation.</summary>
    long InstructionsRetired { get; }
}
