using System.Diagnostics;

namespace VirtShell.Conformance;

/// <summary>
/// How long a guest run has gone without progress, counted in this process's CPU time so that a loaded host (other
/// builds on two cores) does not stop a run that is only slowed down; the wall clock is the backstop for a guest that
/// waits without using the CPU (halted with interrupts off), which a CPU-time limit alone would wait for forever.
/// </summary>
public sealed class ProgressWatch
{
    private readonly TimeSpan _cpuLimit, _wallLimit;
    private readonly Func<TimeSpan> _cpuClock, _wallClock;
    private TimeSpan _cpuStart, _wallStart;
    private (long, long, long) _last;

    /// <param name="cpuLimit">CPU time without progress after which the run is stalled.</param>
    /// <param name="wallLimit">Wall-clock time without progress after which the run is stalled, whatever the CPU did.</param>
    /// <param name="cpuClock">The CPU time used so far (default: the process's); tests give their own.</param>
    /// <param name="wallClock">The wall-clock time so far (default: a stopwatch); tests give their own.</param>
    public ProgressWatch(TimeSpan cpuLimit, TimeSpan wallLimit, Func<TimeSpan>? cpuClock = null, Func<TimeSpan>? wallClock = null)
    {
        _cpuLimit = cpuLimit;
        _wallLimit = wallLimit;
        _cpuClock = cpuClock ?? (() => Environment.CpuUsage.TotalTime);
        if (wallClock == null)
        {
            var stopwatch = Stopwatch.StartNew();
            wallClock = () => stopwatch.Elapsed;
        }
        _wallClock = wallClock;
        _cpuStart = _cpuClock();
        _wallStart = _wallClock();
    }

    /// <summary>
    /// Whether the run has stalled: <paramref name="progress"/> (counters that grow while the guest gets on, e.g. POST
    /// codes, console output, blocks compiled) has not changed for the CPU or the wall-clock limit.
    /// </summary>
    public bool Stalled((long, long, long) progress)
    {
        if (progress != _last)
        {
            _last = progress;
            _cpuStart = _cpuClock();
            _wallStart = _wallClock();
            return false;
        }
        return _cpuClock() - _cpuStart > _cpuLimit || _wallClock() - _wallStart > _wallLimit;
    }
}
