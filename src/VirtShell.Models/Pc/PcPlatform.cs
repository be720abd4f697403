using VirtShell.Devices;
using VirtShell.Devices.Pci;
using VirtShell.Devices.Apic;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;

namespace VirtShell.Models.Pc;

/// <summary>
/// Makes a PC's interrupt controllers and timer once its RAM and buses exist: our 8259/8254 and APICs
/// (<see cref="PcPlatform.EmulatedChipset"/>) or a hypervisor's in-kernel ones. What it adds to
/// <paramref name="owned"/> is disposed with the machine, before the RAM.
/// </summary>
public delegate IInterruptController PcChipsetFactory(GuestMemory memory, IoPortBus ports, MmioBus mmio, WakeSignal wake, ICollection<IDisposable> owned);

/// <summary>
/// The PC every VM model with emulated devices shares: RAM from 0, the 8259/8254 chipset, the board's devices (CMOS
/// RTC, i8042, PCI host bridge: <see cref="PcChipset.BoardPorts"/>), and the definition's devices on the port bus.
/// Checks a definition against it before anything is built.
/// </summary>
public static class PcPlatform
{
    public const ulong MinMemory = 64 * 1024;
    /// <summary>RAM stays below the 32-bit PCI/firmware hole; higher RAM would need a second region.</summary>
    public const ulong MaxMemory = 3UL << 30;

    /// <param name="chipsetPorts">The ports the chipset answers; by default those of our 8259 pair and 8254.</param>
    /// <param name="types">The device types the model allows; by default the built-in ones of the emulated PC.</param>
    /// <param name="board">Whether the machine has the board's devices; a paravirtual machine has none.</param>
    public static void Validate(MachineSpec spec, IEnumerable<BusClaim>? chipsetPorts = null,
        IReadOnlyList<IDeviceType>? types = null, bool board = true)
    {
        foreach (var section in spec.Sections.Keys)
            throw new DefinitionException($"machine '{spec.Name}': a '{section}' section does not apply to model '{spec.Model}'", spec.Source);
        RequireNativeArch(spec);
        if (spec.Boot?.Kernel != null)
            throw new DefinitionException("boot 'kernel' is for riscv64 firmware (OpenSBI) to jump to; a PC boots 'image'", spec.Boot.Source ?? spec.Source);
        if (spec.MemoryBytes < MinMemory || spec.MemoryBytes > MaxMemory)
            throw new DefinitionException(
                $"machine '{spec.Name}': memory must be between {MinMemory / 1024} KiB and {MaxMemory >> 30} GiB, not {spec.MemoryBytes} bytes", spec.Source);
        var boot = spec.Boot ?? throw new DefinitionException($"machine '{spec.Name}' has no boot section", spec.Source);
        // Loaders read these files whole into host memory; none can be larger than the guest's memory.
        string limit = $"the machine's memory ({spec.MemoryBytes >> 10} KiB)";
        var files = new List<(string What, string Path)> { ("boot image", boot.Image) };
        if (boot.Initrd != null) files.Add(("initrd", boot.Initrd));
        files.AddRange(boot.Modules.Select(m => ("module", m.Path)));
        foreach (var (what, path) in files)
            if (GuestFiles.Problem(path, (long)spec.MemoryBytes, limit) is { } problem)
                throw new DefinitionException($"{what} '{path}' {problem}", boot.Source ?? spec.Source);

        // A dry run of every port and MMIO claim, chipset and RAM first, so an overlap is reported before anything boots.
        var ports = new IoPortBus();
        var mmio = new MmioBus();
        var nobody = new UnclaimedPort();
        foreach (var claim in chipsetPorts ?? PcChipset.Ports) ports.Register(claim, nobody);
        mmio.Register(0, spec.MemoryBytes, nobody, "RAM");
        if (board)
        {
            foreach (var claim in PcChipset.BoardPorts) ports.Register(claim, nobody);
            mmio.Register(PciHostBridge.Window, nobody);
        }
        // Every PC model has the APICs at their reset addresses: ours on emulated, KVM's in-kernel ones otherwise.
        foreach (var (start, length, owner) in ApicChipset.Windows) mmio.Register(start, length, nobody, owner);
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

    /// <summary>
    /// A PC model runs x86_64 guests only: on hardware, paravirtual and container the guest runs on the host's own
    /// CPU, and the emulated model sends other architectures to their own platform before it gets here.
    /// </summary>
    public static void RequireNativeArch(MachineSpec spec)
    {
        if (spec.Arch == MachineSpec.DefaultArch) return;
        throw new DefinitionException(spec.Model == "emulated" && spec.Arch != "riscv64"
            ? $"machine '{spec.Name}': arch '{spec.Arch}' is unknown (model 'emulated' has x86_64 and riscv64)"
            : $"machine '{spec.Name}': arch '{spec.Arch}' needs model 'emulated'; model '{spec.Model}' runs x86_64 guests on this host's CPU",
            spec.Source);
    }

    /// <summary>Builds RAM, buses, chipset and devices. What it built is disposed if a later step fails.</summary>
    /// <param name="chipset">The interrupt controller and timer; by default <see cref="EmulatedChipset"/>.</param>
    /// <param name="types">The device types the model allows; by default the PC's.</param>
    /// <param name="board">Whether to build the board's devices (see <see cref="Validate"/>).</param>
    public static PcHardware Build(MachineSpec spec, MachineServices services, PcChipsetFactory? chipset = null,
        IReadOnlyList<IDeviceType>? types = null, bool board = true)
    {
        var memory = new GuestMemory();
        var owned = new List<IDisposable>();
        var wake = new WakeSignal();
        try
        {
            ulong ram = (spec.MemoryBytes + MemoryBlock.PageSize - 1) & ~(MemoryBlock.PageSize - 1);
            memory.AddRam(0, ram);
            foreach (var (start, length) in BootLoaders.Regions(spec.Boot!)) memory.AddRam(start, length);
            var ports = new IoPortBus();
            var mmio = new MmioBus();
            var interrupts = (chipset ?? EmulatedChipset)(memory, ports, mmio, wake, owned);
            // Firmware writes its own MP table (and its EBDA where ours would be), and expects QEMU's i440FX board.
            bool firmware = spec.Boot!.Kind == BootKind.Firmware;
            if (chipset == null && !firmware) MpTable.Write(memory);
            var context = new DeviceContext(ports, mmio, interrupts, memory, services);
            if (board) owned.Add(PcChipset.AttachBoard(context, ram, () => services.PowerOff(Reset()), firmware));
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

    /// <summary>
    /// How a reset through the board ends the run: the machine stops, as <c>qemu -no-reboot</c> does, rather than
    /// start the boot image again behind the user's back (a test watching for an end would never see it); a start
    /// boots it afresh.
    /// </summary>
    private static MachineExit Reset() => new(ExitReason.GuestReset,
        Detail: "the guest reset the machine (keyboard controller reset pulse)");

    /// <summary>
    /// Our 8259 pair, 8254 PIT and port 0x61 on the port bus, a local APIC and an I/O APIC in virtual wire mode. ISA
    /// lines go to both the 8259 and the I/O APIC. <see cref="Build"/> adds the MP table that lets an OS find them,
    /// unless firmware boots the machine and writes its own.
    /// </summary>
    public static IInterruptController EmulatedChipset(GuestMemory memory, IoPortBus ports, MmioBus mmio, WakeSignal wake, ICollection<IDisposable> owned)
    {
        var (apics, pit) = PcChipset.AttachWithApics(ports, mmio, wake);
        owned.Add(pit);
        owned.Add(apics);
        return apics;
    }

    private static IDeviceType FindType(DeviceSpec device, IReadOnlyList<IDeviceType>? types)
    {
        types ??= BuiltInDevices.Catalog.For("emulated");
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
    /// <summary>Our local APIC, which an interpreter asks for pending interrupts; only a PC built with the emulated chipset has one.</summary>
    public ILocalApic LocalApic => Interrupts as ILocalApic
        ?? throw new InvalidOperationException("this PC's interrupt controller is not the emulated APIC chipset");

    public void Dispose() => Release(Devices, Wake, Memory);

    internal static void Release(IEnumerable<IDisposable> devices, WakeSignal wake, GuestMemory memory)
    {
        foreach (var d in devices) d.Dispose();
        wake.Dispose();
        memory.Dispose();
    }
}
