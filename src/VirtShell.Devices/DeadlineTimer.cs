using System.Diagnostics;
using VirtShell.Engine.Native;

namespace VirtShell.Devices;

/// <summary>
/// A host thread that calls its owner back at a deadline (a <see cref="Stopwatch"/> timestamp): the timer devices
/// (the 8254, the RTC, the local APIC) keep their counters from the host clock and use this only to raise their
/// interrupts. It runs under the owner's lock, so <see cref="Schedule"/> and the callback see the owner's state
/// consistently. The thread starts with the first deadline, so a chip the guest never programs costs no thread.
/// </summary>
internal sealed class DeadlineTimer : IDisposable
{
    public const long Never = long.MaxValue;

    /// <summary>
    /// Periodic interrupts are clamped to 10 kHz: every one costs the host a thread wake-up and the guest an
    /// interrupt, and past that rate a guest spends its time in its timer handler (a guest that asks for more is
    /// usually calibrating, and it reads the exact counters for that). Linux asks for 100-1000 Hz, a BIOS for 18.2 Hz.
    /// </summary>
    public static readonly long MinPeriod = Stopwatch.Frequency / 10_000;

    /// <summary>
    /// Monitor waits have millisecond granularity and always oversleep a little; rounding every wait up would make a
    /// 1 kHz timer lose one edge in ten. So the thread waits on the monitor until the deadline is this close, then
    /// sleeps the exact remainder with nanosleep.
    /// </summary>
    private static readonly long FineSleepSpan = Stopwatch.Frequency / 500;

    private readonly object _gate;
    private readonly string _name;
    private readonly Func<long, long, long> _due;
    private Thread? _thread;
    private long _deadline = Never;
    private bool _disposed;

    /// <param name="gate">The owner's lock; <see cref="Schedule"/> is called holding it, the callback runs holding it.</param>
    /// <param name="due">Called at or after the deadline with the deadline and the current timestamp; returns the next
    /// deadline or <see cref="Never"/>.</param>
    public DeadlineTimer(object gate, string name, Func<long, long, long> due)
    {
        _gate = gate;
        _name = name;
        _due = due;
    }

    /// <summary>Replaces the deadline (<see cref="Never"/> cancels it). The caller holds the gate.</summary>
    public void Schedule(long deadline)
    {
        // Owners reschedule after every register write (the local APIC after each EOI): an unchanged deadline must
        // not cost the thread a wake-up.
        if (_disposed || deadline == _deadline) return;
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
        var span = new Libc.Timespec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
        Libc.nanosleep(in span, 0); // an early return (a signal) just means another pass round the loop
    }

    /// <summary>Stops the thread and waits for it. The caller must not hold the gate.</summary>
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
