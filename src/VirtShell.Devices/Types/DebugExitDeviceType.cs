using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary><c>debugExit({ port: 0xf4, size: 1 })</c>: QEMU's isa-debug-exit, so a guest can end its run with a status.</summary>
public sealed class DebugExitDeviceType : IDeviceType
{
    public string Name => "debugExit";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, "port", "size");
        Port(spec);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [(Port(spec), Size(spec))];

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        context.Ports.Register(Port(spec), Size(spec), new DebugExit(context.Services.PowerOff), spec.Describe());
        return null;
    }

    private static ushort Port(DeviceSpec spec) => DeviceSettings.Port(spec, "port", 0xF4, Size(spec));

    private static int Size(DeviceSpec spec)
    {
        long size = spec.GetInteger("size", 1);
        if (size is not (1 or 2 or 4)) throw DeviceSettings.Error(spec, $"'size' must be 1, 2 or 4 (bytes of port space), not {size}");
        return (int)size;
    }
}
