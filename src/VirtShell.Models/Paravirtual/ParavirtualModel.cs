using VirtShell.Cpu.Kvm;
using VirtShell.Devices;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;
using VirtShell.Models.Hardware;
using VirtShell.Models.Pc;

namespace VirtShell.Models.Paravirtual;

/// <summary>
/// Paravirtualization: KVM runs the CPU, and the guest talks to the host through virtio queues in shared memory and
/// the hypercall channel instead of emulated hardware. The only legacy device allowed is one UART marked
/// <c>earlyConsole: true</c>, for a guest's messages before its virtio drivers are up.
/// </summary>
/// <param name="devices">The device types on offer; by default the built-in ones.</param>
public sealed class ParavirtualModel(DeviceCatalog? devices = null) : IMachineModel, IRestorableModel
{
    private const string ModelName = "paravirtual";
    private readonly IReadOnlyList<IDeviceType> _types = (devices ?? BuiltInDevices.Catalog).For(ModelName);

    public string Name => ModelName;
    public string Technique => "paravirtualization: KVM runs the CPU, virtio devices and a hypercall channel";
    public ModelAvailability GetAvailability() => KvmHost.GetAvailability();
    public IReadOnlyCollection<string> DeviceTypes => _types.Select(t => t.Name).ToList();
    public string? DefinitionSection => null;

    public void Validate(MachineSpec spec)
    {
        var uarts = spec.Devices.Where(d => d.Type == "uart16550").ToList();
        foreach (var uart in uarts)
            if (!uart.GetBoolean("earlyConsole"))
                throw new DefinitionException(
                    $"{uart.Describe()}: a paravirtual machine has no legacy devices; a UART is allowed only as the early console (earlyConsole: true)", uart.Source);
        if (uarts.Count > 1)
            throw new DefinitionException($"{uarts[1].Describe()}: a paravirtual machine may have one early-console UART, not {uarts.Count}", uarts[1].Source);
        PcPlatform.Validate(spec, HardwareModel.KernelPorts, _types, board: false);
    }

    /// <summary>
    /// The in-kernel irqchip delivers virtio's interrupt lines; nothing emulated sits on the port bus for it, not even
    /// the board's RTC, keyboard controller and PCI host bridge (a virtio-pci device brings the bridge).
    /// </summary>
    public IMachineRuntime CreateRuntime(MachineSpec spec, MachineServices services) =>
        HardwareModel.CreateKvmRuntime(ModelName, spec, services, _types, state: null, board: false);

    public IMachineRuntime Restore(MachineSpec spec, MachineServices services, SavedState state) =>
        HardwareModel.CreateKvmRuntime(ModelName, spec, services, _types, state, board: false);
}
