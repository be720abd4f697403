using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary><c>pcTestdev()</c>: QEMU's pc-testdev at its fixed ports (<see cref="PcTestDevice"/>), for kvm-unit-tests.</summary>
public sealed class PcTestdevDeviceType : IDeviceType
{
    public string Name => "pcTestdev";

    public void Validate(DeviceSpec spec) => DeviceSettings.RejectUnknown(spec);

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) =>
        [(PcTestDevice.ScratchPort, 8), (PcTestDevice.IrqPortBase, PcTestDevice.IrqLines)];

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var device = new PcTestDevice(context.Interrupts);
        foreach (var (first, count) in Ports(spec)) context.Ports.Register(first, count, device, spec.Describe());
        return null;
    }
}
