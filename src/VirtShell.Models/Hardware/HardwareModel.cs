using VirtShell.Cpu.Kvm;
using VirtShell.Devices;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;
using VirtShell.Models.Emulated;
using VirtShell.Models.Migration;
using VirtShell.Models.Pc;

namespace VirtShell.Models.Hardware;

/// <summary>
/// Hardware virtualization: KVM runs the guest's instructions on the host CPU; the PC around it is the emulated
/// model's (same devices, same boot loaders), except that the 8259 pair, the 8254 and port 0x61 are the kernel's.
/// </summary>
/// <param name="devices">The device types on offer; by default the built-in ones.</param>
public sealed class HardwareModel(DeviceCatalog? devices = null) : IMachineModel, IRestorableModel, IModelMoveTarget
{
    private const string ModelName = "hardware";
    private readonly IReadOnlyList<IDeviceType> _types = (devices ?? BuiltInDevices.Catalog).For(ModelName);

    public string Name => ModelName;
    public string Technique => "hardware virtualization: KVM runs the CPU, emulated PC devices";
    public ModelAvailability GetAvailability() => KvmHost.GetAvailability();
    public IReadOnlyCollection<string> DeviceTypes => _types.Select(t => t.Name).ToList();
    public string? DefinitionSection => null;

    public void Validate(MachineSpec spec) => PcPlatform.Validate(spec, KernelPorts, _types);

    /// <summary>
    /// The ports KVM's in-kernel PIC and PIT answer themselves, so a device claiming one would never be asked: our
    /// chipset's, and the 8259's edge/level control registers, which ours lacks.
    /// </summary>
    internal static IReadOnlyList<BusClaim> KernelPorts { get; } =
        [.. PcChipset.Ports.Select(c => c with { Owner = $"in-kernel {c.Owner}" }), new BusClaim(0x4D0, 2, "in-kernel 8259 PIC (edge/level control)")];

    public IMachineRuntime CreateRuntime(MachineSpec spec, MachineServices services) => CreateKvmRuntime(ModelName, spec, services, _types, state: null);

    public IMachineRuntime Restore(MachineSpec spec, MachineServices services, SavedState state) => CreateKvmRuntime(ModelName, spec, services, _types, state);

    /// <summary>An emulated PC's state, translated (<see cref="PcStateTranslation.ToKvm"/>) against fresh machines of both models.</summary>
    public IMachineRuntime Adopt(MachineSpec spec, MachineServices services, SavedState state)
    {
        PcStateTranslation.RequireSource(state, PcStateTranslation.Emulated, ModelName);
        var translated = PcStateTranslation.ToKvm(state, PcStateTranslation.Fresh(new EmulatedModel(devices), spec), PcStateTranslation.Fresh(this, spec));
        return Restore(spec, services, translated);
    }

    /// <summary>
    /// The PC under KVM, with the device types a model allows and, unless told otherwise, the board's devices; the
    /// paravirtual model shares it without them. Booted from the definition, or given a saved state, loaded from it.
    /// The in-kernel chipset sits on the ports it answers (<see cref="KernelPorts"/>), so a save finds it there.
    /// </summary>
    internal static VirtualMachineRuntime CreateKvmRuntime(string model, MachineSpec spec, MachineServices services,
        IReadOnlyList<IDeviceType> types, SavedState? state, bool board = true)
    {
        KvmVirtualMachine? vm = null;
        var pc = PcPlatform.Build(spec, services, (memory, ports, _, wake, owned) =>
        {
            vm = new KvmVirtualMachine(memory);
            owned.Add(vm);
            foreach (var claim in KernelPorts) ports.Register(claim, vm.Chipset);
            return vm.Interrupts;
        }, types, board);
        VirtualMachineRuntime? runtime = null;
        try
        {
            var cpu = vm!.CreateCpu(pc.Ports, pc.Mmio);
            runtime = new VirtualMachineRuntime(cpu, pc.Memory, pc.Ports, pc.Mmio, pc.Wake, pc)
            {
                Model = model,
                // KVM runs the guest's instructions unobserved, and its halts wait in the kernel: it counts exits.
                Counting = counters => counters with { Instructions = null, HaltExits = null, Exits = cpu.Exits },
            };
            if (state != null) runtime.RestoreState(state);
            else cpu.SetState(BootLoaders.Load(spec.Boot!, pc.Memory));
            return runtime;
        }
        catch
        {
            if (runtime != null) runtime.Dispose();
            else pc.Dispose(); // the VM, and with it the vCPU, goes with the PC
            throw;
        }
    }
}
