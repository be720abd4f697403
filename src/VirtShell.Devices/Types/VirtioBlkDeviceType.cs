using VirtShell.Devices.Virtio;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>virtioBlk({ image: './disk.img', readOnly: false, serial: 'data', address: 0xd0000200, irq: 6 })</c>: a raw
/// image file as a virtio disk. The image is locked while the machine runs (exclusively unless read-only).
/// </summary>
public sealed class VirtioBlkDeviceType : IDeviceType, IMmioDeviceType, IDeviceTreeDeviceType
{
    private const int MaxSerial = 20;

    private const uint PciClass = 0x01_00_00; // mass storage, SCSI, as QEMU shows virtio-blk

    public string Name => "virtioBlk";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, [.. VirtioTransportSettings.Keys, .. DiskImageSettings.Keys, "serial"]);
        VirtioTransportSettings.Validate(spec);
        DiskImageSettings.Validate(spec);
        Serial(spec);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [];

    public IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec) => VirtioTransportSettings.MmioRanges(spec);

    public void Describe(DeviceSpec spec, DeviceTreeBoard board) => VirtioTransportSettings.Describe(spec, board);

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var device = new VirtioBlock(spec.Type, context.Memory, DiskImageSettings.Open(spec), Serial(spec), context.Services.Log);
        return VirtioTransportSettings.Attach(spec, context, device, PciClass);
    }

    /// <summary>What the guest reads as the disk's ID; the image's file name unless the definition names one.</summary>
    private static string Serial(DeviceSpec spec)
    {
        var serial = ParavirtualSettings.String(spec, "serial");
        if (serial is null) return DiskImageSettings.FileNameSerial(spec, MaxSerial);
        if (serial.Length > MaxSerial || serial.Any(c => c is < ' ' or > '~'))
            throw DeviceSettings.Error(spec, $"'serial' must be at most {MaxSerial} printable ASCII characters, not '{serial}'");
        return serial;
    }
}
