using System.Diagnostics;
using System.Management.Automation;

namespace VirtShell.PowerShell.Session;

/// <summary>
/// Write-Progress for a wait. Nothing shows for a wait answered within half a second, so quick calls do not flash a
/// bar; after that each look at the machine updates the status, and with a timeout the bar fills as the deadline
/// (<paramref name="timeoutSeconds"/> after the wait began) comes closer.
/// Must be used on the pipeline thread, as every Write* call.
/// </summary>
internal sealed class WaitProgress(Cmdlet cmdlet, string activity, Deadline deadline, double? timeoutSeconds)
{
    private static readonly TimeSpan ShowAfter = TimeSpan.FromMilliseconds(500);
    private const int ActivityId = 0x5653; // one bar per cmdlet: its waits follow one another

    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private bool _shown;

    public void Update(string status)
    {
        var elapsed = _watch.Elapsed;
        if (elapsed < ShowAfter) return;
        // A new record each time: the progress stream keeps the records it is given, not copies.
        var record = new ProgressRecord(ActivityId, activity, $"{status}; waited {elapsed.TotalSeconds:0} s");
        if (timeoutSeconds is { } timeout && timeout > 0)
        {
            double remaining = deadline.Remaining.TotalSeconds;
            record.PercentComplete = (int)Math.Clamp(100 - remaining * 100 / timeout, 0, 100);
            record.SecondsRemaining = (int)Math.Ceiling(remaining);
        }
        cmdlet.WriteProgress(record);
        _shown = true;
    }

    /// <summary>Takes the bar down, if it was ever shown.</summary>
    public void Complete()
    {
        if (!_shown) return;
        cmdlet.WriteProgress(new ProgressRecord(ActivityId, activity, "done") { RecordType = ProgressRecordType.Completed });
        _shown = false;
    }
}
