using System.Diagnostics;
using VirtShell.Engine.Native;

namespace VirtShell.Conformance;

/// <summary>
/// Wall-clock and this thread's CPU time around an action: on a loaded build machine the CPU time of the thread is
/// what tells the interpreter's speed (for reporting only; no test asserts on timing).
/// </summary>
public static class ThreadClock
{
    private const int ClockThreadCpuTime = 3;

    private static TimeSpan ThreadCpu()
    {
        Libc.clock_gettime(ClockThreadCpuTime, out var ts);
        return TimeSpan.FromTicks(ts.Seconds * TimeSpan.TicksPerSecond + ts.Nanoseconds / 100);
    }

    public static (T Result, TimeSpan Wall, TimeSpan Cpu) Measure<T>(Func<T> action)
    {
        var cpu0 = ThreadCpu();
        var sw = Stopwatch.StartNew();
        var result = action();
        return (result, sw.Elapsed, ThreadCpu() - cpu0);
    }
}
