using VirtShell.Cpu.Kvm;
using VirtShell.Devices;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Models.Pc;

namespace VirtShell.Models.Hardware;

/// <summary>
/// Hardware virtualization: KVM runs the guest's instructions on the host CPU; the PC around it is the emulated
/// model's (same devices, same boot loaders), except that the 8259 pair, the 8254 and port 0x61 are the kernel's.
/// </summary>
public sealed class HardwareModel : IMachineModel
{
    public string Name => "hardware";
    public string Technique => "hardware virtualization: KVM runs the CPU, emulated PC devices";
    public ModelAvailability GetAvailability() => KvmHost.GetAvailability();
    public IReadOnlyCollection<string> DeviceTypes => PcPlatform.DeviceTypeNames;

    public void Validate(MachineSpec spec) => PcPlatform.Validate(spec, KernelPorts);

    /// <summary>
    /// The ports KVM's in-kernel PIC and PIT answer themselves, so a device claiming one would never be asked: our
    /// chipset's, and the 8259's edge/level control registers, which ours lacks.
    /// </summary>
    internal static IReadOnlyList<BusClaim> KernelPorts { get; } =
        [.. PcChipset.Ports.Select(c => c with { Owner = $"in-kernel {c.Owner}" }), new BusClaim(0x4D0, 2, "in-kernel 8259 PIC (edge/level control)")];

    public IMachineRuntime CreateRuntime(MachineSpec spec, MachineServices services) => CreateKvmRuntime(spec, services);

    /// <summary>
    /// The PC under KVM, with the device types a model allows (by default the PC's) and, unless told otherwise, the
    /// board's devices; the paravirtual model shares it without them.
    /// </summary>
    internal static IMachineRuntime CreateKvmRuntime(MachineSpec spec, MachineServices services, IReadOnlyList<IDeviceType>? types = null,
        bool board = true)
    {
        KvmVirtualMachine? vm = null;
        var pc = PcPlatform.Build(spec, services, (memory, ports, _, wake, owned) =>
        {
            vm = new KvmVirtualMachine(memory);
            owned.Add(vm);
            return vm.Interrupts;
        }, types, board);
        try
        {
            var cpu = vm!.CreateCpu(pc.Ports, pc.Mmio);
            cpu.SetState(BootLoaders.Load(spec.Boot!, pc.Memory));
            return new HardwareRuntime(new VirtualMachineRuntime(cpu, pc.Memory, pc.Ports, pc.Mmio, pc.Wake, pc), cpu);
        }
        catch
        {
            pc.Dispose(); // the VM, and with it the vCPU, goes with the PC
            throw;
        }
    }
}
