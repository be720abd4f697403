namespace VirtShell.Pc;

/// <summary>What a CPU that delivers interrupts itself (the interpreter) sees of the controller.</summary>
public interface IInterruptSource
{
    /// <summary>True while an unmasked request is waiting for the CPU (the 8259's INT output).</summary>
    bool HasPendingInterrupt { get; }

    /// <summary>The INTA cycle: returns the vector to deliver, or -1 if the request went away.</summary>
    int AcknowledgeInterrupt();

    /// <summary>True while a non-maskable interrupt waits for the CPU (EFLAGS.IF does not hold it back).</summary>
    bool HasPendingNmi => false;

    /// <summary>Takes the waiting NMI; false when none was waiting.</summary>
    bool AcknowledgeNmi() => false;
}
