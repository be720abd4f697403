using System.Diagnostics;

namespace VirtShell.PowerShell.Session;

/// <summary>A point in time a wait must not pass; none means wait until cancelled.</summary>
internal readonly struct Deadline
{
    private readonly long? _atTicks;
    private Deadline(long? atTicks) => _atTicks = atTicks;

    public static Deadline After(double? seconds) =>
        new(seconds is { } s ? Stopwatch.GetTimestamp() + (long)(s * Stopwatch.Frequency) : null);

    public TimeSpan Remaining => _atTicks is { } at
        ? TimeSpan.FromSeconds(Math.Max(0, at - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency)
        : TimeSpan.MaxValue;

    public bool HasPassed => Remaining == TimeSpan.Zero;

    /// <summary>How long to sleep before looking again: short, so Ctrl+C and other processes' changes are seen soon.</summary>
    public TimeSpan NextSlice => Remaining < PollInterval ? Remaining : PollInterval;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);
}
