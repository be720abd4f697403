using VirtShell.Devices.Storage;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>virtioBlk({ image: './disk.img', readOnly: false, serial: 'data', address: 0xd0000200, irq: 6 })</c>: a raw
/// image file as a virtio disk. The image is locked while the machine runs (exclusively unless read-only).
/// </summary>
public sealed class VirtioBlkDeviceType : IDeviceType, IMmioDeviceType
{
    private const int MaxSerial = 20;

    private const uint PciClass = 0x01_00_00; // mass storage, SCSI, as QEMU shows virtio-blk

    public string Name => "virtioBlk";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, [.. VirtioTransportSettings.Keys, "image", "readOnly", "serial"]);
        VirtioTransportSettings.Validate(spec);
        var image = Image(spec);
        if (Directory.Exists(image)) throw DeviceSettings.Error(spec, $"'image' {image} is a directory, not a disk image");
        if (!File.Exists(image)) throw DeviceSettings.Error(spec, $"'image' {image} does not exist (create it first, e.g. with truncate -s 64M)");
        spec.GetBoolean("readOnly");
        Serial(spec);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [];

    public IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec) => VirtioTransportSettings.MmioRanges(spec);

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        DiskImage image;
        try
        {
            image = DiskImage.Open(Image(spec), spec.GetBoolean("readOnly"));
        }
        catch (DiskImageException e)
        {
            throw new DefinitionException($"{spec.Describe()}: {e.Message}", spec.Source, e);
        }
        var device = new VirtioBlock(spec.Type, context.Memory, image, Serial(spec), context.Services.Log);
        return VirtioTransportSettings.Attach(spec, context, device, PciClass);
    }

    private static string Image(DeviceSpec spec)
    {
        var image = ParavirtualSettings.String(spec, "image");
        if (string.IsNullOrWhiteSpace(image)) throw DeviceSettings.Error(spec, "'image' is required: the path of a raw disk image");
        return ParavirtualSettings.FilePath(spec, image);
    }

    /// <summary>What the guest reads as the disk's ID; the image's file name unless the definition names one.</summary>
    private static string Serial(DeviceSpec spec)
    {
        var serial = ParavirtualSettings.String(spec, "serial");
        if (serial is null) return Path.GetFileName(Image(spec)) is var name && name.Length > MaxSerial ? name[..MaxSerial] : name;
        if (serial.Length > MaxSerial || serial.Any(c => c is < ' ' or > '~'))
            throw DeviceSettings.Error(spec, $"'serial' must be at most {MaxSerial} printable ASCII characters, not '{serial}'");
        return serial;
    }
}
