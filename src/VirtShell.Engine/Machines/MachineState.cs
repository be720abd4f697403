namespace VirtShell.Engine.Machines;

/// <summary>
/// A machine's lifecycle: Created, then per run Starting, Running (Paused and back), Stopping, and Stopped or Crashed,
/// from which it can start again; Saved after a checkpoint with a state is restored, until the start that goes on from it.
/// </summary>
public enum MachineState
{
    /// <summary>Defined, never started.</summary>
    Created,
    /// <summary>The runtime is being built.</summary>
    Starting,
    /// <summary>The guest runs.</summary>
    Running,
    /// <summary>The guest's CPUs are held; its state is kept.</summary>
    Paused,
    /// <summary>A stop was asked for and the run is ending.</summary>
    Stopping,
    /// <summary>The last run ended by choice (guest, user or hook).</summary>
    Stopped,
    /// <summary>The last run ended by a crash (<see cref="MachineExit.IsCrash"/>).</summary>
    Crashed,
    /// <summary>At rest with a saved state (a checkpoint restored into it): the next start goes on from that state instead of booting.</summary>
    Saved,
}

/// <summary>Questions about a <see cref="MachineState"/>.</summary>
public static class MachineStates
{
    /// <summary>
    /// A run is under way (Starting, Running, Paused, Stopping): the machine cannot be started or removed, and a
    /// stop has something to end. The other states (Created, Stopped, Crashed, Saved) are at rest.
    /// </summary>
    public static bool IsLive(this MachineState state) =>
        state is MachineState.Starting or MachineState.Running or MachineState.Paused or MachineState.Stopping;
}

/// <summary>Why a run ended; <see cref="MachineExit.IsCrash"/> says which reasons are crashes.</summary>
public enum ExitReason
{
    /// <summary>The guest turned itself off (an ACPI or platform power-off).</summary>
    GuestPowerOff,
    /// <summary>The guest wrote to the isa-debug-exit port.</summary>
    DebugExit,
    /// <summary>The guest reset the machine (a reboot); the run ends, as with <c>qemu -no-reboot</c>.</summary>
    GuestReset,
    /// <summary>The CPU shut down on an exception it could not deliver.</summary>
    TripleFault,
    /// <summary>A hook failed, or a script device reported an error.</summary>
    HookError,
    /// <summary>Stop-VirtMachine, or a hook asking the machine to stop.</summary>
    StoppedByUser,
    /// <summary>The process that ran the machine ended while it was running (killed, or it crashed): a crash.</summary>
    HostProcessEnded,
    /// <summary>The engine could not go on (an emulation limit or a backend error).</summary>
    InternalError,
    /// <summary>The kernel's OOM killer ended the guest's processes at its memory limit (containers).</summary>
    OutOfMemory,
}

/// <summary>How a machine's last run ended. <see cref="Status"/> is the guest's exit status where it gave one.</summary>
public sealed record MachineExit(ExitReason Reason, int? Status = null, string? Detail = null)
{
    /// <summary>When the run ended (UTC).</summary>
    public DateTimeOffset At { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>A crash is an end the guest did not choose and the user did not ask for.</summary>
    public bool IsCrash => Reason is ExitReason.TripleFault or ExitReason.HookError or ExitReason.InternalError or ExitReason.OutOfMemory
        or ExitReason.HostProcessEnded;

    /// <summary>The reason, with the status if there is one.</summary>
    public override string ToString() => Status is null ? Reason.ToString() : $"{Reason} (status {Status})";
}
