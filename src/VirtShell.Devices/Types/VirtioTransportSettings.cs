using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// The settings every virtio device type shares, <c>transport: 'mmio', address: 0xd0000000, irq: 5</c>, and attaching
/// a device on that transport.
/// </summary>
internal static class VirtioTransportSettings
{
    public static readonly string[] Keys = ["transport", "address", "irq"];

    public static void Validate(DeviceSpec spec)
    {
        Transport(spec);
        Address(spec);
        Irq(spec);
    }

    public static IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec) => [(Address(spec), VirtioMmioTransport.WindowSize)];

    /// <summary>Puts <paramref name="device"/> on the bus; on failure the device is disposed and the error names the definition's device.</summary>
    public static IDisposable Attach(DeviceSpec spec, DeviceContext context, VirtioDevice device)
    {
        try
        {
            ulong address = Address(spec);
            if (context.Memory.Blocks.Any(b => address < b.GuestEnd && b.GuestAddress < address + VirtioMmioTransport.WindowSize))
                throw DeviceSettings.Error(spec, $"'address' 0x{address:x} lies in the machine's RAM; put the device above it");
            var transport = new VirtioMmioTransport(device, address, Irq(spec), context.Interrupts);
            context.Mmio.Register(address, VirtioMmioTransport.WindowSize, transport, spec.Describe());
            return device;
        }
        catch (BusConflictException e)
        {
            device.Dispose();
            throw new DefinitionException($"MMIO conflict: {e.Message}", spec.Source);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    private static void Transport(DeviceSpec spec)
    {
        var transport = ParavirtualSettings.String(spec, "transport") ?? "mmio";
        if (transport != "mmio") throw DeviceSettings.Error(spec, $"'transport' must be 'mmio', not '{transport}'");
    }

    private static ulong Address(DeviceSpec spec)
    {
        long address = spec.GetInteger("address");
        if (address <= 0 || address % (long)VirtioMmioTransport.WindowSize != 0 || address >= 1L << 48)
            throw DeviceSettings.Error(spec, $"'address' must be a physical address below 2^48 aligned to 0x{VirtioMmioTransport.WindowSize:x} (its register window), not {DeviceSettings.Show(address)}");
        return (ulong)address;
    }

    private static int Irq(DeviceSpec spec) => DeviceSettings.Integer(spec, "irq", 5, 0, 15);
}
