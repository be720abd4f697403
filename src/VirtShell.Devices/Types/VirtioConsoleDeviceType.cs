using VirtShell.Devices.Virtio;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary><c>virtioConsole({ address: 0xd0000000, irq: 5 })</c> or <c>virtioConsole({ transport: 'pci', slot: 1, irq: 11 })</c>: the machine's console as a virtio-console (hvc0 in Linux).</summary>
public sealed class VirtioConsoleDeviceType : IDeviceType, IMmioDeviceType, IDeviceTreeDeviceType
{
    private const uint PciClass = 0x07_80_00; // communication controller, other

    public string Name => "virtioConsole";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, VirtioTransportSettings.Keys);
        VirtioTransportSettings.Validate(spec);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [];

    public IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec) => VirtioTransportSettings.MmioRanges(spec);

    public void Describe(DeviceSpec spec, DeviceTreeBoard board) => VirtioTransportSettings.Describe(spec, board);

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context) =>
        VirtioTransportSettings.Attach(spec, context, new VirtioConsole(spec.Type, context.Memory, context.Services.Console, context.Services.Log), PciClass);
}
