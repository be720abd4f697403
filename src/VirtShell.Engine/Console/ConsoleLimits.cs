namespace VirtShell.Engine.Console;

/// <summary>
/// How much console output a machine may leave on the host (a definition's <c>console: { ... }</c>). console.log
/// is rotated like docker's json-file log (<c>max-size</c>, <c>max-file</c>), and guest output past a token bucket
/// is dropped and counted, as Firecracker's serial device does, so a guest printing without pause can fill neither
/// the disk nor the host's time.
/// </summary>
public sealed record ConsoleLimits
{
    /// <summary>10 MiB files, 3 of them, 8 MiB/s with an 8 MiB burst.</summary>
    public static readonly ConsoleLimits Default = new();

    /// <summary>console.log is rotated when it reaches this size.</summary>
    public long MaxSize { get; init; } = 10 << 20;

    /// <summary>Files kept: console.log and console.log.1 … console.log.(MaxFiles-1), the oldest deleted.</summary>
    public int MaxFiles { get; init; } = 3;

    /// <summary>Guest output bytes per second the bucket refills with; 0 for no limit.</summary>
    public long Rate { get; init; } = 8 << 20;

    /// <summary>What the bucket holds: the most the guest can write at once after a quiet spell.</summary>
    public long Burst { get; init; } = 8 << 20;
}
