using VirtShell.Cpu.Interpreter;
using VirtShell.Devices;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Migration;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;
using VirtShell.Models.Hardware;
using VirtShell.Models.Migration;
using VirtShell.Models.Pc;
using VirtShell.Models.RiscV;

namespace VirtShell.Models.Emulated;

/// <summary>
/// Hardware emulation: every guest instruction is interpreted, or compiled to .NET IL by the translating tier (the
/// definition's <c>cpu.tier</c>), every device is ours. Runs anywhere.
/// </summary>
/// <param name="devices">The device types on offer; by default the built-in ones.</param>
public sealed class EmulatedModel(DeviceCatalog? devices = null) : IMachineModel, IRestorableModel, IModelMoveTarget, IPreCopyTarget
{
    private const string ModelName = "emulated";
    private readonly IReadOnlyList<IDeviceType> _types = (devices ?? BuiltInDevices.Catalog).For(ModelName);
    private readonly IReadOnlyList<IDeviceType> _riscvTypes = (devices ?? BuiltInDevices.Catalog).For(BuiltInDevices.EmulatedRiscV);

    public string Name => ModelName;
    public string Technique => "hardware emulation: x86 interpreter on the Iced decoder, emulated PC chipset; RV64GC interpreter on a virt board";
    public ModelAvailability GetAvailability() => ModelAvailability.Available;
    public IReadOnlyCollection<string> DeviceTypes => _types.Concat(_riscvTypes).Select(t => t.Name).Distinct().ToList();
    public string? DefinitionSection => CpuSection.Name;

    public void Validate(MachineSpec spec)
    {
        CpuSection.Read(spec);
        var platformSpec = CpuSection.Without(spec);
        if (spec.Arch == RiscvVirtPlatform.Arch) RiscvVirtPlatform.Validate(platformSpec, _riscvTypes);
        else PcPlatform.Validate(platformSpec, types: _types);
    }

    public IMachineRuntime CreateRuntime(MachineSpec spec, MachineServices services) =>
        spec.Arch == RiscvVirtPlatform.Arch
            ? RiscvVirtPlatform.CreateRuntime(ModelName, spec, services, _riscvTypes)
            : Build(spec, services, state: null);

    public IMachineRuntime Restore(MachineSpec spec, MachineServices services, SavedState state) =>
        spec.Arch == RiscvVirtPlatform.Arch
            ? RiscvVirtPlatform.CreateRuntime(ModelName, spec, services, _riscvTypes, state)
            : Build(spec, services, state);

    /// <summary>A <c>hardware</c> machine's state, translated (<see cref="PcStateTranslation.ToEmulated"/>) against fresh machines of both models.</summary>
    public IMachineRuntime Adopt(MachineSpec spec, MachineServices services, SavedState state)
    {
        PcStateTranslation.RequireSource(state, PcStateTranslation.Hardware, ModelName);
        var translated = PcStateTranslation.ToEmulated(state, PcStateTranslation.Fresh(new HardwareModel(devices), spec), PcStateTranslation.Fresh(this, spec));
        return Restore(spec, services, translated);
    }

    /// <inheritdoc/>
    public VirtualMachineRuntime BuildIncoming(MachineSpec spec, MachineServices services) =>
        spec.Arch == RiscvVirtPlatform.Arch
            ? throw new StateNotSupportedException("a RISC-V machine cannot be received by pre-copy: its CPU keeps no log of the pages it writes")
            : Build(spec, services, state: null, boot: false);

    /// <summary>The PC and its interpreter, booted from the definition's image or, given a saved state, loaded from it.</summary>
    private VirtualMachineRuntime Build(MachineSpec spec, MachineServices services, SavedState? state, bool boot = true)
    {
        var pc = PcPlatform.Build(spec, services, types: _types);
        InterpreterCpu? cpu = null;
        VirtualMachineRuntime? runtime = null;
        try
        {
            cpu = new InterpreterCpu(pc.Memory, pc.Ports, pc.Mmio, pc.LocalApic);
            var settings = CpuSection.Read(spec);
            cpu.Tier = settings.Tier;
            if (settings.CompileThreshold is { } threshold) cpu.TranslateAfter = threshold;
            if (settings.DumpPath != null) cpu.DumpTranslations(settings.DumpPath);
            runtime = new VirtualMachineRuntime(cpu, pc.Memory, pc.Ports, pc.Mmio, pc.Wake, pc) { Model = ModelName };
            if (state != null) runtime.RestoreState(state);
            else if (boot)
            {
                cpu.SetState(BootLoaders.Load(spec.Boot!, pc.Memory));
                if (spec.Boot!.Kind == BootKind.Multiboot) PcChipset.InitializePicsAsBios(pc.Ports);
            }
            return runtime;
        }
        catch
        {
            if (runtime != null) runtime.Dispose();
            else
            {
                cpu?.Dispose();
                pc.Dispose();
            }
            throw;
        }
    }
}
