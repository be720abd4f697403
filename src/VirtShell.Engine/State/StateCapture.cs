using System.Diagnostics;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;

namespace VirtShell.Engine.State;

/// <summary>
/// Saves and restores a whole VM: the CPU (section <c>cpu</c>), RAM (<see cref="MemoryState.Section"/>) and every
/// device on the port and MMIO buses, each once, in a section named after its first claim (<c>port 0x3f8</c>,
/// <c>mmio 0xfec00000</c>): the place a definition puts a device, which does not move when the definition file does.
/// A device that implements neither <see cref="IDeviceState"/> nor <see cref="IStatelessDevice"/> makes a save
/// refuse, naming it.
/// </summary>
public static class StateCapture
{
    /// <summary>The CPU's section.</summary>
    public const string CpuSection = "cpu";

    /// <summary>A part of the machine with its section and the name its bus claim gives it.</summary>
    private sealed record Part(string Section, string Owner, IDeviceState? State);

    /// <summary>The state of a machine whose vCPU is parked or not running.</summary>
    /// <exception cref="StateNotSupportedException">The CPU backend or a device cannot save its state; nothing is written.</exception>
    /// <remarks>Without <paramref name="withMemory"/> the memory section is left out: a pre-copy sent RAM already.</remarks>
    public static SavedState Capture(string model, IVirtualCpu cpu, GuestMemory memory, IoPortBus ports, MmioBus mmio, bool withMemory = true)
    {
        var parts = Parts(cpu, ports, mmio);
        var missing = parts.Where(p => p.State == null).Select(p => $"{p.Owner} ({p.Section})").ToList();
        if (missing.Count > 0)
            throw new StateNotSupportedException($"this machine's state cannot be saved: {string.Join(", ", missing)} cannot save {(missing.Count == 1 ? "its" : "their")} state");
        var state = new SavedState(model);
        long now = Stopwatch.GetTimestamp();
        if (withMemory)
        {
            var memoryWriter = new StateWriter(now);
            MemoryState.Save(memory, memoryWriter);
            state.Add(MemoryState.Section, memoryWriter.Written);
        }
        foreach (var part in parts)
        {
            var writer = new StateWriter(now);
            part.State!.SaveState(writer);
            state.Add(part.Section, writer.Written);
        }
        return state;
    }

    /// <summary>
    /// Loads <paramref name="state"/> into a machine just built from the same definition, before its first run. The
    /// sections are matched to the machine's parts first (model, every part present, nothing left over); a failure
    /// after that leaves the machine half restored, and the caller must discard it.
    /// </summary>
    /// <exception cref="StateFormatException">The state is for another model or other devices, or a section is damaged.</exception>
    /// <remarks>Without <paramref name="withMemory"/> the state must have no memory section, and RAM is left as it is.</remarks>
    public static void Apply(SavedState state, string model, IVirtualCpu cpu, GuestMemory memory, IoPortBus ports, MmioBus mmio, bool withMemory = true)
    {
        if (state.Model != model)
            throw new StateFormatException($"the saved state is of a '{state.Model}' machine, not '{model}'");
        var parts = Parts(cpu, ports, mmio);
        var notRestorable = parts.FirstOrDefault(p => p.State == null);
        if (notRestorable != null)
            throw new StateNotSupportedException($"{notRestorable.Owner} ({notRestorable.Section}) cannot restore a saved state");
        var expected = parts.Select(p => p.Section).Concat(withMemory ? [MemoryState.Section] : []).ToList();
        var missing = expected.Where(s => state.Find(s) == null).ToList();
        if (missing.Count > 0)
            throw new StateFormatException($"the saved state has no section for {string.Join(", ", missing.Select(s => Describe(s, parts)))}: it is not of a machine with this definition");
        var extra = state.SectionNames.Except(expected).ToList();
        if (extra.Count > 0)
            throw new StateFormatException($"the saved state has sections this machine has no part for ({string.Join(", ", extra)}): it is not of a machine with this definition");

        long now = Stopwatch.GetTimestamp();
        if (withMemory) MemoryState.Restore(memory, new StateReader(MemoryState.Section, state.Find(MemoryState.Section)!, now));
        foreach (var part in parts)
        {
            var reader = new StateReader(part.Section, state.Find(part.Section)!, now);
            part.State!.RestoreState(reader);
            reader.End();
        }
    }

    private static string Describe(string section, IReadOnlyList<Part> parts) =>
        parts.FirstOrDefault(p => p.Section == section) is { } p && p.Owner != section ? $"{p.Owner} ({section})" : section;

    /// <summary>The CPU first, then every distinct device on the port bus, then on the MMIO bus, by first claim.</summary>
    private static List<Part> Parts(IVirtualCpu cpu, IoPortBus ports, MmioBus mmio)
    {
        var parts = new List<Part> { new(CpuSection, $"the CPU ({cpu.GetType().Name})", cpu as IDeviceState) };
        foreach (var (section, owner, device) in Devices(ports, mmio)) parts.Add(For(device, section, owner));
        return parts;
    }

    /// <summary>The devices whose contents are in a disk image, each once (a checkpoint captures their images).</summary>
    public static IReadOnlyList<IDiskImageDevice> DiskDevices(IoPortBus ports, MmioBus mmio) =>
        [.. Devices(ports, mmio).SelectMany(d => d.Device switch
        {
            IDiskImageDevice disk => [disk],
            IDiskImageCarrier carrier => carrier.DiskImages,
            _ => [],
        })];

    /// <summary>Every distinct device on the port bus, then on the MMIO bus, with its section name and owner.</summary>
    private static IEnumerable<(string Section, string Owner, object Device)> Devices(IoPortBus ports, MmioBus mmio)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var (claim, device) in ports.Devices)
            if (seen.Add(device)) yield return ($"port 0x{claim.Start:x}", claim.Owner, device);
        foreach (var (claim, device) in mmio.Devices)
            if (seen.Add(device)) yield return ($"mmio 0x{claim.Start:x}", claim.Owner, device);
    }

    private static Part For(object device, string section, string owner) => device switch
    {
        IDeviceState state => new Part(section, owner, state),
        IStatelessDevice => new Part(section, owner, Stateless.Instance),
        _ => new Part(section, owner, null),
    };

    /// <summary>The empty section of a device with nothing to save.</summary>
    private sealed class Stateless : IDeviceState
    {
        public static readonly Stateless Instance = new();
        public void SaveState(StateWriter writer) { }
        public void RestoreState(StateReader reader) { }
    }
}
