using VirtShell.Engine.Native;

namespace VirtShell.Engine.Machines;

/// <summary>
/// The host CPU time of one thread (user and system; for a KVM vCPU thread the guest's time too), readable from any
/// thread while that thread lives: a POSIX per-thread CPU clock. Once the thread has ended, the last value read stays.
/// </summary>
public sealed class ThreadCpuClock
{
    private readonly int _clock;
    private long _lastNanoseconds;

    private ThreadCpuClock(int clock) => _clock = clock;

    /// <summary>The calling thread's clock; null where the host has none.</summary>
    public static ThreadCpuClock? OfCurrentThread() =>
        Libc.pthread_getcpuclockid(Libc.pthread_self(), out int clock) == 0 ? new ThreadCpuClock(clock) : null;

    /// <summary>CPU time the thread has used so far; thread-safe.</summary>
    public TimeSpan Elapsed
    {
        get
        {
            if (Libc.clock_gettime(_clock, out var time) == 0)
                Interlocked.Exchange(ref _lastNanoseconds, time.Seconds * 1_000_000_000 + time.Nanoseconds);
            return TimeSpan.FromTicks(Interlocked.Read(ref _lastNanoseconds) / 100);
        }
    }
}
