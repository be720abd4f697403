namespace VirtShell.Engine.Interrupts;

/// <summary>
/// What a device sees of interrupts: it connects to an input of the controller once and raises and lowers its line.
/// With the interpreter this is our 8259 pair and I/O APIC; with KVM it is the in-kernel irqchip. Devices don't care
/// which.
/// </summary>
public interface IInterruptController
{
    /// <summary>
    /// Connects a device to input <paramref name="irq"/>. Every input is the wired-OR of its connections, high while any
    /// of them is asserted, as PCI INTx and shared ISA lines are: one device lowering a shared line cannot hide
    /// another's request. Throws <see cref="ArgumentOutOfRangeException"/> for an input the controller lacks.
    /// </summary>
    InterruptLine Connect(int irq);
}
