using VirtShell.Devices.Platform;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary><c>debugConsole({ port: 0x402 })</c>: QEMU's isa-debugcon, a write-only port onto the machine's console.</summary>
public sealed class DebugConsoleDeviceType : IDeviceType
{
    public string Name => "debugConsole";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, "port");
        Port(spec);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [(Port(spec), 1)];

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        context.Ports.Register(Port(spec), 1, new DebugConsole(context.Services.Console), spec.Describe());
        return null;
    }

    private static ushort Port(DeviceSpec spec) => DeviceSettings.Port(spec, "port", 0x402, 1);
}
