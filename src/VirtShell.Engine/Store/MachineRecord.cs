using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;

namespace VirtShell.Engine.Store;

/// <summary>What machine.json holds: the spec, the state and who runs the machine.</summary>
public sealed record MachineRecord
{
    public required string Name { get; init; }
    public required MachineSpec Spec { get; init; }
    public MachineState State { get; init; } = MachineState.Created;
    /// <summary>The process that runs the machine while it is not Created/Stopped/Crashed, and when that process started (to spot a reused pid).</summary>
    public int? OwnerProcessId { get; init; }
    public DateTimeOffset? OwnerProcessStart { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    public DateTimeOffset? StartedAt { get; init; }
    public MachineExit? LastExit { get; init; }
}
