using VirtShell.Engine.Interrupts;

namespace VirtShell.Tests.Devices;

/// <summary>An interrupt controller that remembers each line's level and counts its rising edges.</summary>
internal sealed class RecordingInterrupts : IInterruptController
{
    private readonly object _lock = new();
    private readonly bool[] _levels = new bool[16];
    private readonly int[] _risingEdges = new int[16];
    private readonly InterruptInputs _inputs;

    public RecordingInterrupts() => _inputs = new InterruptInputs(16, SetIrq);

    public InterruptLine Connect(int irq) => _inputs.Connect(irq);

    private void SetIrq(int irq, bool level)
    {
        lock (_lock)
        {
            if (level && !_levels[irq]) _risingEdges[irq]++;
            _levels[irq] = level;
        }
    }

    public bool Level(int irq) { lock (_lock) return _levels[irq]; }
    public int RisingEdges(int irq) { lock (_lock) return _risingEdges[irq]; }
}
