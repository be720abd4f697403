using System.Runtime.CompilerServices;
using VirtShell.Engine.Interrupts;

namespace VirtShell.Devices.Pci;

/// <summary>
/// A device's connection to an interrupt-controller input that other devices may share: the line is high while any of
/// them asserts it (wired-OR), as PCI INTx lines are. Without this, one device lowering a shared line would hide
/// another's pending interrupt. Legacy devices that drive a line directly must not share it.
/// </summary>
public sealed class InterruptPin
{
    // Per controller, how many pins assert each line.
    private static readonly ConditionalWeakTable<IInterruptController, Dictionary<int, int>> Lines = new();

    private readonly IInterruptController _controller;
    private readonly Dictionary<int, int> _line;
    private bool _asserted;

    public InterruptPin(IInterruptController controller, int irq)
    {
        _controller = controller;
        Irq = irq;
        _line = Lines.GetValue(controller, _ => []);
    }

    public int Irq { get; }

    public void Set(bool asserted)
    {
        lock (_line)
        {
            bool changed = asserted != _asserted;
            if (changed) _line[Irq] = _line.GetValueOrDefault(Irq) + (asserted ? 1 : -1);
            _asserted = asserted;
            bool high = _line.GetValueOrDefault(Irq) > 0;
            // Restated on every assertion, not only on edges: the controller may have been reset under a high line.
            if (high || changed) _controller.SetIrq(Irq, high);
        }
    }
}
