using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Interrupts;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// Device interrupt lines into the in-kernel irqchip (KVM_IRQ_LINE). Safe from any thread; a halted vCPU is woken by
/// the kernel, so no <see cref="WakeSignal"/> is involved.
/// </summary>
internal sealed unsafe class KvmInterruptController : IInterruptController
{
    /// <summary>The in-kernel I/O APIC has 24 pins; ISA IRQs 0-15 also reach the 8259 pair.</summary>
    public const int Lines = 24;

    private readonly KvmVirtualMachine _vm;
    private readonly InterruptInputs _inputs;

    public KvmInterruptController(KvmVirtualMachine vm)
    {
        _vm = vm;
        _inputs = new InterruptInputs(Lines, SetLine);
    }

    public InterruptLine Connect(int irq) => _inputs.Connect(irq);

    private void SetLine(int irq, bool level)
    {
        var line = new KvmIrqLevel { Irq = (uint)irq, Level = level ? 1u : 0u };
        // A device may still signal while the machine is torn down (console input racing a stop): nothing to wake.
        _vm.IoctlUnlessClosed(KvmApi.IrqLine, (nint)(&line), $"KVM_IRQ_LINE {irq}");
    }
}
