namespace VirtShell.Engine.Interrupts;

/// <summary>
/// Wakes a halted vCPU: an interrupt controller sets it when a request arrives, the machine when it wants the
/// vCPU thread's attention (stop, pause).
/// </summary>
public sealed class WakeSignal : IDisposable
{
    private readonly ManualResetEventSlim _event = new(false);

    public void Set() => _event.Set();

    /// <summary>Waits until set or the timeout passes, then re-arms.</summary>
    public void Wait(TimeSpan timeout)
    {
        _event.Wait(timeout);
        _event.Reset();
    }

    public void Dispose() => _event.Dispose();
}
