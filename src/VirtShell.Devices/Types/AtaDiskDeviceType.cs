using VirtShell.Devices.Storage;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>ataDisk({ image: './disk.img', readOnly: false })</c>: a raw image file as the master disk of the primary IDE
/// channel (ports 0x1F0-0x1F7 and 0x3F6, IRQ 14), driven by PIO. The image is locked while the machine runs
/// (exclusively unless read-only); IDENTIFY gives its file name as the serial number.
/// </summary>
public sealed class AtaDiskDeviceType : IDeviceType
{
    public string Name => "ataDisk";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, DiskImageSettings.Keys);
        DiskImageSettings.Validate(spec);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => AtaDisk.Ports;

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var disk = new AtaDisk(DiskImageSettings.Open(spec), DiskImageSettings.FileNameSerial(spec, AtaDisk.SerialLength),
            context.Interrupts, context.Services.Log);
        try
        {
            foreach (var (first, count) in AtaDisk.Ports) context.Ports.Register(first, count, disk, spec.Describe());
        }
        catch
        {
            disk.Dispose();
            throw;
        }
        return disk;
    }
}
