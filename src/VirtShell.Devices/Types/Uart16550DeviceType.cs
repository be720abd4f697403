using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>uart16550({ port: 0x3f8, irq: 4, console: true })</c>: a serial port, on the machine's console unless console is
/// false. With <c>earlyConsole: true</c> it only prints: console input goes to the console the guest moves on to.
/// </summary>
public sealed class Uart16550DeviceType : IDeviceType
{
    public string Name => "uart16550";

    public void Validate(DeviceSpec spec)
    {
        // earlyConsole marks the one UART a paravirtual machine may keep for messages before its virtio drivers are up.
        DeviceSettings.RejectUnknown(spec, "port", "irq", "console", "earlyConsole");
        spec.GetBoolean("earlyConsole");
        Port(spec);
        Irq(spec);
        spec.GetBoolean("console", true);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [(Port(spec), Uart16550.PortCount)];

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var console = spec.GetBoolean("console", true) ? context.Services.Console : null;
        var uart = new Uart16550(Port(spec), Irq(spec), context.Interrupts, console, outputOnly: spec.GetBoolean("earlyConsole"));
        try
        {
            context.Ports.Register(Port(spec), Uart16550.PortCount, uart, spec.Describe());
        }
        catch
        {
            uart.Dispose();
            throw;
        }
        return uart;
    }

    private static ushort Port(DeviceSpec spec) => DeviceSettings.Port(spec, "port", 0x3F8, Uart16550.PortCount);
    private static int Irq(DeviceSpec spec) => DeviceSettings.Integer(spec, "irq", 4, 0, 15);
}
