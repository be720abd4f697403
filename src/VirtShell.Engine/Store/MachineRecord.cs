using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;

namespace VirtShell.Engine.Store;

/// <summary>What machine.json holds: the spec, the state and who runs the machine.</summary>
public sealed record MachineRecord
{
    /// <summary>The machine's name, which is also its folder's.</summary>
    public required string Name { get; init; }
    /// <summary>The definition as last validated.</summary>
    public required MachineSpec Spec { get; init; }
    /// <summary>The lifecycle state when the record was saved.</summary>
    public MachineState State { get; init; } = MachineState.Created;
    /// <summary>The process that runs the machine while it is not Created/Stopped/Crashed, and when that process started (to spot a reused pid).</summary>
    public int? OwnerProcessId { get; init; }
    /// <summary>See <see cref="OwnerProcessId"/>.</summary>
    public DateTimeOffset? OwnerProcessStart { get; init; }
    /// <summary>When the machine was created (UTC).</summary>
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>When the latest run started (UTC); null if it never ran.</summary>
    public DateTimeOffset? StartedAt { get; init; }
    /// <summary>The copy of the definition that starts read; null for a machine made before copies were kept, which starts from <see cref="MachineSpec.DefinitionPath"/>.</summary>
    public StoredDefinition? Definition { get; init; }
    /// <summary>How the latest run ended; null if none has.</summary>
    public MachineExit? LastExit { get; init; }
}
