using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtShell.Devices;

/// <summary>
/// The thread that wakes a timer chip (8254, RTC) at the <see cref="Stopwatch"/> timestamp it asks for and calls it
/// back under the chip's own lock, so the callback sees the chip as its port handlers do. The callback returns the
/// next deadline, or <see cref="Never"/>. The thread starts with the first deadline, so a chip the guest never
/// programs costs no thread.
/// </summary>
internal sealed class DeadlineTimer : IDisposable
{
    public const long Never = long.MaxValue;

    /// <summary>
    /// Monitor waits have millisecond granularity and always oversleep a little; rounding every wait up would make a
    /// 1 kHz timer lose one edge in ten. So the thread waits on the monitor until the deadline is this close, then
    /// sleeps the exact remainder with nanosleep.
    /// </summary>
    private static readonly long FineSleepSpan = Stopwatch.Frequency / 500;

    private readonly object _gate;
    private readonly Func<long, long, long> _due;
    private readonly string _name;
    private Thread? _thread;
    private long _deadline = Never;
    private bool _disposed;

    /// <param name="gate">The chip's lock: the callback runs holding it, and <see cref="Schedule"/> is called holding it.</param>
    /// <param name="due">Called with (deadline, now), now at or past the deadline; returns the next deadline or <see cref="Never"/>.</param>
    public DeadlineTimer(object gate, string name, Func<long, long, long> due)
    {
        _gate = gate;
        _name = name;
        _due = due;
    }

    /// <summary>Replaces the deadline (<see cref="Never"/> cancels it). Call holding the chip's lock.</summary>
    public void Schedule(long deadline)
    {
        if (_disposed) return;
        _deadline = deadline;
        if (deadline != Never && _thread == null)
        {
            _thread = new Thread(Run) { IsBackground = true, Name = _name };
            _thread.Start();
        }
        Monitor.PulseAll(_gate);
    }

    private void Run()
    {
        Monitor.Enter(_gate);
        try
        {
            while (!_disposed)
            {
                if (_deadline == Never)
                {
                    Monitor.Wait(_gate);
                    continue;
                }
                long now = Stopwatch.GetTimestamp();
                long left = _deadline - now;
                if (left > FineSleepSpan)
                {
                    // Schedule and Dispose pulse the monitor, so this part of the wait ends early for them.
                    Monitor.Wait(_gate, (int)Math.Min(left * 1000 / Stopwatch.Frequency - 1, int.MaxValue));
                    continue;
                }
                if (left > 0)
                {
                    Monitor.Exit(_gate);
                    try { SleepPrecisely(left); }
                    finally { Monitor.Enter(_gate); }
                    continue; // the deadline may have changed meanwhile
                }
                _deadline = _due(_deadline, now);
            }
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    private static void SleepPrecisely(long stopwatchTicks)
    {
        long ns = (long)((Int128)stopwatchTicks * 1_000_000_000 / Stopwatch.Frequency);
        var span = new Timespec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
        nanosleep(in span, IntPtr.Zero); // an early return (a signal) just means another pass round the loop
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", SetLastError = false)]
    private static extern int nanosleep(in Timespec request, IntPtr remaining);

    /// <summary>Stops the thread and waits for it. Call without holding the chip's lock.</summary>
    public void Dispose()
    {
        Thread? thread;
        lock (_gate)
        {
            _disposed = true;
            _deadline = Never;
            thread = _thread;
            Monitor.PulseAll(_gate);
        }
        thread?.Join();
    }
}
