namespace VirtShell.Engine.Machines;

public enum MachineState { Created, Starting, Running, Paused, Stopping, Stopped, Crashed }

public static class MachineStates
{
    /// <summary>
    /// A run is under way (Starting, Running, Paused, Stopping): the machine cannot be started or removed, and a
    /// stop has something to end. The other states (Created, Stopped, Crashed) are at rest.
    /// </summary>
    public static bool IsLive(this MachineState state) =>
        state is MachineState.Starting or MachineState.Running or MachineState.Paused or MachineState.Stopping;
}

public enum ExitReason
{
    /// <summary>The guest turned itself off (an ACPI or platform power-off).</summary>
    GuestPowerOff,
    /// <summary>The guest wrote to the isa-debug-exit port.</summary>
    DebugExit,
    /// <summary>The guest reset the machine (a reboot); the run ends, as with <c>qemu -no-reboot</c>.</summary>
    GuestReset,
    TripleFault,
    HookError,
    StoppedByUser,
    /// <summary>The process that ran the machine ended while it was running.</summary>
    HostProcessEnded,
    /// <summary>The engine could not go on (an emulation limit or a backend error).</summary>
    InternalError,
    /// <summary>The kernel's OOM killer ended the guest's processes at its memory limit (containers).</summary>
    OutOfMemory,
}

/// <summary>How a machine's last run ended. <see cref="Status"/> is the guest's exit status where it gave one.</summary>
public sealed record MachineExit(ExitReason Reason, int? Status = null, string? Detail = null)
{
    public DateTimeOffset At { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>A crash is an end the guest did not choose and the user did not ask for.</summary>
    public bool IsCrash => Reason is ExitReason.TripleFault or ExitReason.HookError or ExitReason.InternalError or ExitReason.OutOfMemory;

    public override string ToString() => Status is null ? Reason.ToString() : $"{Reason} (status {Status})";
}
