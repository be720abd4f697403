using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Interrupts;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// Device interrupt lines into the in-kernel irqchip (KVM_IRQ_LINE). Safe from any thread; a halted vCPU is woken by
/// the kernel, so no <see cref="WakeSignal"/> is involved.
/// </summary>
internal sealed unsafe class KvmInterruptController(KvmVirtualMachine vm) : IInterruptController
{
    /// <summary>The in-kernel I/O APIC has 24 pins; ISA IRQs 0-15 also reach the 8259 pair.</summary>
    public const int Lines = 24;

    public void SetIrq(int irq, bool level)
    {
        if ((uint)irq >= Lines) throw new ArgumentOutOfRangeException(nameof(irq), $"IRQ {irq} is not a line of the in-kernel irqchip (0-{Lines - 1})");
        var line = new KvmIrqLevel { Irq = (uint)irq, Level = level ? 1u : 0u };
        // A device may still signal while the machine is torn down (console input racing a stop): nothing to wake.
        vm.IoctlUnlessClosed(KvmApi.IrqLine, (nint)(&line), $"KVM_IRQ_LINE {irq}");
    }
}
