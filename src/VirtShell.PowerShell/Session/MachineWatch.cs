using System.Diagnostics;
using VirtShell.Engine.Machines;

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

/// <summary>Waits on machines that may run in this process (events from the engine) or in another (polling the store).</summary>
internal static class MachineWatch
{
    /// <summary>The machine as it is now: a machine run by another process is re-read from its record.</summary>
    public static Machine Refresh(VirtualizationHost host, Machine machine) =>
        machine.IsLocal ? machine : host.Find(machine.Name) ?? machine;

    /// <summary>
    /// True once the machine is in one of <paramref name="states"/>; false when the deadline passes or the wait is
    /// cancelled. <paramref name="stillWaiting"/> sees the machine each time it is found not there yet.
    /// </summary>
    public static bool WaitForState(VirtualizationHost host, ref Machine machine, IReadOnlyCollection<MachineState> states,
        Deadline deadline, CancellationToken cancel, Action<Machine>? stillWaiting = null)
    {
        while (true)
        {
            machine = Refresh(host, machine);
            if (states.Contains(machine.State)) return true;
            if (deadline.HasPassed || cancel.IsCancellationRequested) return false;
            stillWaiting?.Invoke(machine);
            if (machine.IsLocal) machine.WaitFor(states, deadline.NextSlice, cancel);
            else cancel.WaitHandle.WaitOne(deadline.NextSlice);
        }
    }
}
