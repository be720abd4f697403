using VirtShell.Cpu.Interpreter;
using VirtShell.Devices;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Models.Pc;
using VirtShell.Models.RiscV;

namespace VirtShell.Models.Emulated;

/// <summary>Hardware emulation: every guest instruction is interpreted, every device is ours. Runs anywhere.</summary>
/// <param name="devices">The device types on offer; by default the built-in ones.</param>
public sealed class EmulatedModel(DeviceCatalog? devices = null) : IMachineModel
{
    private const string ModelName = "emulated";
    private readonly IReadOnlyList<IDeviceType> _types = (devices ?? BuiltInDevices.Catalog).For(ModelName);
    private readonly IReadOnlyList<IDeviceType> _riscvTypes = (devices ?? BuiltInDevices.Catalog).For(BuiltInDevices.EmulatedRiscV);

    public string Name => ModelName;
    public string Technique => "hardware emulation: x86 interpreter on the Iced decoder, emulated PC chipset; RV64GC interpreter on a virt board";
    public ModelAvailability GetAvailability() => ModelAvailability.Available;
    public IReadOnlyCollection<string> DeviceTypes => _types.Concat(_riscvTypes).Select(t => t.Name).Distinct().ToList();
    public string? DefinitionSection => null;

    public void Validate(MachineSpec spec)
    {
        if (spec.Arch == RiscvVirtPlatform.Arch) RiscvVirtPlatform.Validate(spec, _riscvTypes);
        else PcPlatform.Validate(spec, types: _types);
    }

    public IMachineRuntime CreateRuntime(MachineSpec spec, MachineServices services)
    {
        if (spec.Arch == RiscvVirtPlatform.Arch) return RiscvVirtPlatform.CreateRuntime(spec, services, _riscvTypes);
        var pc = PcPlatform.Build(spec, services, types: _types);
        InterpreterCpu? cpu = null;
        try
        {
            cpu = new InterpreterCpu(pc.Memory, pc.Ports, pc.Mmio, pc.LocalApic);
            cpu.SetState(BootLoaders.Load(spec.Boot!, pc.Memory));
            if (spec.Boot!.Kind == BootKind.Multiboot) PcChipset.InitializePicsAsBios(pc.Ports);
            return new VirtualMachineRuntime(cpu, pc.Memory, pc.Ports, pc.Mmio, pc.Wake, pc);
        }
        catch
        {
            cpu?.Dispose();
            pc.Dispose();
            throw;
        }
    }
}
