namespace VirtShell.Scripting;

/// <summary>What a definition's script may spend.</summary>
public sealed record ScriptLimits
{
    /// <summary>
    /// Longest a single hook or script-device call may run before it is interrupted: CPU time of the script thread,
    /// so a call on a busy host is not cut short, within ten times this in wall time.
    /// </summary>
    public TimeSpan HookTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest the definition's module code may run while it is loaded, counted as <see cref="HookTimeout"/> is.</summary>
    public TimeSpan LoadTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The V8 heap a definition may use; past it the running script fails with an error.</summary>
    public ulong HeapBytes { get; init; } = 64UL << 20;

    /// <summary>How many console lines may wait for the onConsoleLine hook before further lines are dropped.</summary>
    public int ConsoleQueueLength { get; init; } = 10_000;
}
