using VirtShell.Engine.Interrupts;
namespace VirtShell.Pc;

/// <summary>
/// A CPU's local APIC as the CPU that delivers interrupts itself (the interpreter) sees it: the source of its external
/// interrupts — its own, and the 8259's through LINT0 — and the IA32_APIC_BASE MSR (1Bh) that moves and disables it.
/// </summary>
public interface ILocalApic : IInterruptSource
{
    /// <summary>IA32_APIC_BASE: the page base, bit 11 (global enable) and bit 8 (this is the bootstrap processor).</summary>
    ulong BaseMsr { get; }

    /// <summary>A WRMSR to IA32_APIC_BASE; false when the value sets a reserved bit (the CPU raises #GP(0)).</summary>
    bool TryWriteBaseMsr(ulong value);

    /// <summary>Bit 11 of IA32_APIC_BASE: while it is clear the CPU behaves as one without an APIC (CPUID.1:EDX.APIC clear).</summary>
    bool Enabled { get; }
}
