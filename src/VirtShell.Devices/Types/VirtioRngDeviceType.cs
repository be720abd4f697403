using VirtShell.Devices.Virtio;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary><c>virtioRng({ address: 0xd0000400, irq: 7 })</c>: host randomness for the guest (hw_random in Linux).</summary>
public sealed class VirtioRngDeviceType : IDeviceType, IMmioDeviceType, IDeviceTreeDeviceType
{
    private const uint PciClass = 0x00_FF_00; // unclassified

    public string Name => "virtioRng";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, VirtioTransportSettings.Keys);
        VirtioTransportSettings.Validate(spec);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [];

    public IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec) => VirtioTransportSettings.MmioRanges(spec);

    public void Describe(DeviceSpec spec, DeviceTreeBoard board) => VirtioTransportSettings.Describe(spec, board);

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context) =>
        VirtioTransportSettings.Attach(spec, context, new VirtioRng(spec.Type, context.Memory, context.Services.Log), PciClass);
}
