using VirtShell.Devices;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;

namespace VirtShell.Models.Pc;

/// <summary>
/// Makes a PC's interrupt controller and timer once its RAM and port bus exist: our 8259/8254
/// (<see cref="PcPlatform.EmulatedChipset"/>) or a hypervisor's in-kernel ones. What it adds to
/// <paramref name="owned"/> is disposed with the machine, before the RAM.
/// </summary>
public delegate IInterruptController PcChipsetFactory(GuestMemory memory, IoPortBus ports, WakeSignal wake, ICollection<IDisposable> owned);

/// <summary>
/// The PC every VM model with emulated devices shares: RAM from 0, the 8259/8254 chipset, and the definition's
/// devices on the port bus. Checks a definition against it before anything is built.
/// </summary>
public static class PcPlatform
{
    public const ulong MinMemory = 64 * 1024;
    /// <summary>RAM stays below the 32-bit PCI/firmware hole; higher RAM would need a second region.</summary>
    public const ulong MaxMemory = 3UL << 30;

    public static IReadOnlyCollection<string> DeviceTypeNames { get; } = PcDeviceTypes.All.Select(t => t.Name).ToArray();

    /// <param name="chipsetPorts">The ports the chipset answers; by default those of our 8259 pair and 8254.</param>
    /// <param name="types">The device types the model allows; by default the PC's (<see cref="PcDeviceTypes"/>).</param>
    public static void Validate(MachineSpec spec, IEnumerable<(ushort First, int Count, string Owner)>? chipsetPorts = null,
        IReadOnlyList<IDeviceType>? types = null)
    {
        foreach (var section in spec.Sections.Keys)
            throw new DefinitionException($"machine '{spec.Name}': a '{section}' section does not apply to model '{spec.Model}'", spec.Source);
        if (spec.MemoryBytes < MinMemory || spec.MemoryBytes > MaxMemory)
            throw new DefinitionException(
                $"machine '{spec.Name}': memory must be between {MinMemory / 1024} KiB and {MaxMemory >> 30} GiB, not {spec.MemoryBytes} bytes", spec.Source);
        var boot = spec.Boot ?? throw new DefinitionException($"machine '{spec.Name}' has no boot section", spec.Source);
        if (!File.Exists(boot.Image))
            throw new DefinitionException($"boot image '{boot.Image}' does not exist", boot.Source ?? spec.Source);

        // A dry run of every port and MMIO claim, chipset and RAM first, so an overlap is reported before anything boots.
        var ports = new IoPortBus();
        var mmio = new MmioBus();
        var nobody = new UnclaimedPort();
        foreach (var (first, count, owner) in chipsetPorts ?? PcChipset.Ports) ports.Register(first, count, nobody, owner);
        mmio.Register(0, spec.MemoryBytes, nobody, "RAM");
        foreach (var (start, length) in BootLoaders.Regions(boot)) mmio.Register(start, length, nobody, $"boot image '{Path.GetFileName(boot.Image)}'");
        foreach (var device in spec.Devices)
        {
            var type = FindType(device, types);
            type.Validate(device);
            try
            {
                foreach (var (first, count) in type.Ports(device)) ports.Register(first, count, nobody, device.Describe());
                if (type is IMmioDeviceType mapped)
                    foreach (var (start, length) in mapped.MmioRanges(device)) mmio.Register(start, length, nobody, device.Describe());
            }
            catch (BusConflictException e)
            {
                throw new DefinitionException($"{(e.Claim.Start > 0xFFFF || e.Existing.Owner == "RAM" ? "address" : "port")} conflict: {e.Message}", device.Source);
            }
        }
    }

    /// <summary>Builds RAM, buses, chipset and devices. What it built is disposed if a later step fails.</summary>
    /// <param name="chipset">The interrupt controller and timer; by default <see cref="EmulatedChipset"/>.</param>
    /// <param name="types">The device types the model allows; by default the PC's.</param>
    public static PcHardware Build(MachineSpec spec, MachineServices services, PcChipsetFactory? chipset = null,
        IReadOnlyList<IDeviceType>? types = null)
    {
        var memory = new GuestMemory();
        var owned = new List<IDisposable>();
        var wake = new WakeSignal();
        try
        {
            memory.AddRam(0, (spec.MemoryBytes + MemoryBlock.PageSize - 1) & ~(MemoryBlock.PageSize - 1));
            foreach (var (start, length) in BootLoaders.Regions(spec.Boot!)) memory.AddRam(start, length);
            var ports = new IoPortBus();
            var mmio = new MmioBus();
            var interrupts = (chipset ?? EmulatedChipset)(memory, ports, wake, owned);
            var context = new DeviceContext(ports, mmio, interrupts, memory, services);
            foreach (var device in spec.Devices)
                if (FindType(device, types).Attach(device, context) is { } disposable) owned.Add(disposable);
            return new PcHardware(memory, ports, mmio, interrupts, wake, owned);
        }
        catch
        {
            PcHardware.Release(owned, wake, memory);
            throw;
        }
    }

    /// <summary>Our 8259 pair and 8254 PIT on the port bus.</summary>
    public static IInterruptController EmulatedChipset(GuestMemory memory, IoPortBus ports, WakeSignal wake, ICollection<IDisposable> owned)
    {
        var (pic, pit) = PcChipset.Attach(ports, wake);
        owned.Add(pit);
        return pic;
    }

    private static IDeviceType FindType(DeviceSpec device, IReadOnlyList<IDeviceType>? types)
    {
        types ??= PcDeviceTypes.All;
        return types.FirstOrDefault(t => t.Name == device.Type) ?? throw new DefinitionException(
            $"unknown device type '{device.Type}' (this model knows: {string.Join(", ", types.Select(t => t.Name))})", device.Source);
    }

    /// <summary>Stands in for devices during the dry run of claims.</summary>
    private sealed class UnclaimedPort : IPortDevice, IMmioDevice
    {
        public uint ReadPort(ushort port, int size) => uint.MaxValue;
        public void WritePort(ushort port, int size, uint value) { }
        public ulong ReadMmio(ulong address, int size) => ulong.MaxValue;
        public void WriteMmio(ulong address, int size, ulong value) { }
    }
}

/// <summary>A built PC: memory, buses, the interrupt controller, and the devices; disposing releases them all.</summary>
public sealed record PcHardware(GuestMemory Memory, IoPortBus Ports, MmioBus Mmio, IInterruptController Interrupts, WakeSignal Wake, IReadOnlyList<IDisposable> Devices)
    : IDisposable
{
    /// <summary>Our 8259 pair, which an interpreter asks for pending interrupts; only a PC built with the emulated chipset has one.</summary>
    public Pic8259Pair Pic => Interrupts as Pic8259Pair
        ?? throw new InvalidOperationException("this PC's interrupt controller is not the emulated 8259 pair");

    public void Dispose() => Release(Devices, Wake, Memory);

    internal static void Release(IEnumerable<IDisposable> devices, WakeSignal wake, GuestMemory memory)
    {
        foreach (var d in devices) d.Dispose();
        wake.Dispose();
        memory.Dispose();
    }
}
