namespace VirtShell.Engine.Interrupts;

/// <summary>
/// The inputs of one interrupt controller, each the wired-OR of the <see cref="InterruptLine"/>s connected to it. A
/// controller implements <see cref="IInterruptController.Connect"/> with one of these, which drives the controller's
/// own input logic with each input's combined level.
/// </summary>
/// <param name="count">How many inputs the controller has (16 for the 8259 pair, 24 for an I/O APIC).</param>
/// <param name="drive">Sets an input to a level; called under this object's lock, so levels arrive in order.</param>
public sealed class InterruptInputs(int count, Action<int, bool> drive)
{
    private readonly int[] _asserted = new int[count];

    /// <summary>A new connection to input <paramref name="irq"/>, deasserted; each device gets its own, so shared inputs work.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The controller has no such input.</exception>
    public InterruptLine Connect(int irq)
    {
        if ((uint)irq >= (uint)count) throw new ArgumentOutOfRangeException(nameof(irq), irq, $"this interrupt controller has inputs 0..{count - 1}");
        return new InterruptLine(this, irq);
    }

    internal void Set(InterruptLine line, bool asserted)
    {
        lock (_asserted)
        {
            bool changed = asserted != line.Asserted;
            if (changed) _asserted[line.Irq] += asserted ? 1 : -1;
            line.Asserted = asserted;
            bool high = _asserted[line.Irq] > 0;
            // Restated on every assertion, not only on edges: the controller may have been reset under a high line.
            if (high || changed) drive(line.Irq, high);
        }
    }

    internal void Restore(InterruptLine line, bool asserted)
    {
        lock (_asserted)
        {
            if (asserted != line.Asserted) _asserted[line.Irq] += asserted ? 1 : -1;
            line.Asserted = asserted;
        }
    }
}

/// <summary>One device's connection to an interrupt-controller input (see <see cref="IInterruptController.Connect"/>).</summary>
public sealed class InterruptLine
{
    private readonly InterruptInputs _inputs;

    internal InterruptLine(InterruptInputs inputs, int irq)
    {
        _inputs = inputs;
        Irq = irq;
    }

    /// <summary>The controller input this line is connected to.</summary>
    public int Irq { get; }

    /// <summary>This connection's own level; the input's is the OR of every connection's.</summary>
    public bool Asserted { get; internal set; }

    /// <summary>
    /// Sets this connection's level (level-triggered; an edge device asserts then deasserts). Thread-safe.
    /// </summary>
    public void Set(bool asserted) => _inputs.Set(this, asserted);

    /// <summary>
    /// Sets the level a saved state recorded without driving the controller, whose own saved state holds the level it
    /// saw: a device restored before or after its controller leaves both as they were.
    /// </summary>
    public void RestoreLevel(bool asserted) => _inputs.Restore(this, asserted);
}
