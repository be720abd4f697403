namespace VirtShell.Engine.Interrupts;

/// <summary>
/// Wakes a halted vCPU: an interrupt controller sets it when a request arrives, the machine when it wants the
/// vCPU thread's attention (stop, pause).
/// </summary>
public sealed class WakeSignal : IDisposable
{
    private readonly ManualResetEventSlim _event = new(false);

    /// <summary>Wakes the waiting vCPU, or the next <see cref="Wait"/> if none waits. Thread-safe.</summary>
    public void Set() => _event.Set();

    /// <summary>Waits until set or the timeout passes, then re-arms.</summary>
    public void Wait(TimeSpan timeout)
    {
        _event.Wait(timeout);
        _event.Reset();
    }

    /// <summary>Releases the event; only once nothing waits on or sets it.</summary>
    public void Dispose() => _event.Dispose();
}
