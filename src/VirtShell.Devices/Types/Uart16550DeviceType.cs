using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>uart16550({ port: 0x3f8, irq: 4, console: true })</c>: a serial port, on the machine's console unless console is
/// false. With <c>earlyConsole: true</c> it only prints: console input goes to the console the guest moves on to.
/// With <c>address</c> instead of <c>port</c> its registers are memory-mapped (a board without ports, RISC-V virt).
/// </summary>
public sealed class Uart16550DeviceType : IDeviceType, IMmioDeviceType, IDeviceTreeDeviceType
{
    /// <summary>The window a memory-mapped UART claims (as QEMU's virt board gives it).</summary>
    public const ulong MmioSize = 0x100;

    public string Name => "uart16550";

    public void Validate(DeviceSpec spec)
    {
        // earlyConsole marks the one UART a paravirtual machine may keep for messages before its virtio drivers are up.
        DeviceSettings.RejectUnknown(spec, "port", "address", "irq", "console", "earlyConsole");
        spec.GetBoolean("earlyConsole");
        if (Address(spec) != null && spec.Settings.ContainsKey("port"))
            throw new DefinitionException($"{spec.Describe()}: give 'port' or 'address', not both", spec.Source);
        Port(spec);
        Irq(spec);
        spec.GetBoolean("console", true);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => Address(spec) == null ? [(Port(spec), Uart16550.PortCount)] : [];

    public IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec) => Address(spec) is { } a ? [(a, MmioSize)] : [];

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var console = spec.GetBoolean("console", true) ? context.Services.Console : null;
        var address = Address(spec);
        var uart = new Uart16550(address == null ? Port(spec) : (ushort)0, Irq(spec), context.Interrupts, console, outputOnly: spec.GetBoolean("earlyConsole"))
        {
            MmioBase = address ?? 0,
        };
        try
        {
            if (address is { } a) context.Mmio.Register(a, MmioSize, uart, spec.Describe());
            else context.Ports.Register(Port(spec), Uart16550.PortCount, uart, spec.Describe());
        }
        catch
        {
            uart.Dispose();
            throw;
        }
        return uart;
    }

    /// <summary>An ns16550a node, as QEMU's virt board has it; the console UART is /chosen's stdout-path.</summary>
    public void Describe(DeviceSpec spec, DeviceTreeBoard board)
    {
        ulong address = Address(spec) ?? throw DeviceSettings.Error(spec, "a board without I/O ports needs the UART's 'address'");
        var node = board.Bus.Child($"serial@{address:x}").Strings("compatible", "ns16550a").Pairs("reg", address, MmioSize)
            .Cells("clock-frequency", 3686400);
        board.Interrupt(node, Irq(spec));
        if (spec.GetBoolean("console", true)) board.Chosen.Strings("stdout-path", $"{board.BusPath}/serial@{address:x}");
    }

    private static ushort Port(DeviceSpec spec) => DeviceSettings.Port(spec, "port", 0x3F8, Uart16550.PortCount);
    private static ulong? Address(DeviceSpec spec) =>
        spec.Settings.ContainsKey("address") ? DeviceSettings.MmioAddress(spec, "address", MmioSize) : null;
    private static int Irq(DeviceSpec spec) => DeviceSettings.Integer(spec, "irq", 4, 0, 15);
}
