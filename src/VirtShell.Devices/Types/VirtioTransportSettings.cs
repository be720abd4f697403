using VirtShell.Devices.Pci;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// The settings every virtio device type shares, and attaching a device on its transport:
/// <c>transport: 'mmio', address: 0xd0000000, irq: 5</c> or <c>transport: 'pci', slot: 3, irq: 11</c>.
/// </summary>
internal static class VirtioTransportSettings
{
    public static readonly string[] Keys = ["transport", "address", "slot", "irq"];

    public static void Validate(DeviceSpec spec)
    {
        if (IsPci(spec))
        {
            if (spec.Settings.ContainsKey("address"))
                throw DeviceSettings.Error(spec, "'address' is for transport 'mmio'; a PCI device's registers are placed by the PCI host bridge");
            Slot(spec);
        }
        else
        {
            if (spec.Settings.ContainsKey("slot")) throw DeviceSettings.Error(spec, "'slot' is for transport 'pci'");
            Address(spec);
        }
        Irq(spec);
    }

    /// <summary>MMIO devices claim their window; PCI devices live in the host bridge's window, claimed once by the bridge.</summary>
    public static IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec) =>
        IsPci(spec) ? [] : [(Address(spec), VirtioMmioTransport.WindowSize)];

    /// <summary>A virtio,mmio node for a device on the MMIO transport (a device-tree board has no PCI here).</summary>
    public static void Describe(DeviceSpec spec, DeviceTreeBoard board)
    {
        if (IsPci(spec)) throw DeviceSettings.Error(spec, "this board has no PCI: give transport 'mmio' and an 'address'");
        ulong address = Address(spec);
        board.Interrupt(board.Bus.Child($"virtio_mmio@{address:x}").Strings("compatible", "virtio,mmio")
            .Pairs("reg", address, VirtioMmioTransport.WindowSize), Irq(spec));
    }

    /// <summary>Puts <paramref name="device"/> on its transport; on failure the device is disposed and the error names the definition's device.</summary>
    /// <param name="pciClass">The PCI class code the device shows when on PCI.</param>
    public static IDisposable Attach(DeviceSpec spec, DeviceContext context, VirtioDevice device, uint pciClass)
    {
        try
        {
            if (IsPci(spec)) AttachPci(spec, context, device, pciClass);
            else AttachMmio(spec, context, device);
            return device;
        }
        catch (Exception e) when (e is BusConflictException or InvalidOperationException)
        {
            device.Dispose();
            throw new DefinitionException($"{spec.Describe()}: {e.Message}", spec.Source, e);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    private static void AttachMmio(DeviceSpec spec, DeviceContext context, VirtioDevice device)
    {
        ulong address = Address(spec);
        if (context.Memory.Blocks.Any(b => address < b.GuestEnd && b.GuestAddress < address + VirtioMmioTransport.WindowSize))
            throw DeviceSettings.Error(spec, $"'address' 0x{address:x} lies in the machine's RAM; put the device above it");
        var transport = new VirtioMmioTransport(device, address, Irq(spec), context.Interrupts);
        context.Mmio.Register(address, VirtioMmioTransport.WindowSize, transport, spec.Describe());
    }

    private static void AttachPci(DeviceSpec spec, DeviceContext context, VirtioDevice device, uint pciClass)
    {
        var bridge = PciHostBridge.For(context);
        var transport = new VirtioPciTransport(device, pciClass, bridge.AllocateBar(VirtioPciTransport.BarSize), context.Interrupts, Irq(spec));
        bridge.Add(Slot(spec), transport);
    }

    private static bool IsPci(DeviceSpec spec) => (ParavirtualSettings.String(spec, "transport") ?? "mmio") switch
    {
        "mmio" => false,
        "pci" => true,
        var other => throw DeviceSettings.Error(spec, $"'transport' must be 'mmio' or 'pci', not '{other}'"),
    };

    private static ulong Address(DeviceSpec spec) => DeviceSettings.MmioAddress(spec, "address", VirtioMmioTransport.WindowSize);

    private static int Slot(DeviceSpec spec) => DeviceSettings.Integer(spec, "slot", 0, 1, PciHostBridge.Slots - 1);

    private static int Irq(DeviceSpec spec) => DeviceSettings.Integer(spec, "irq", 5, 0, 15);
}
