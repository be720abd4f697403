using VirtShell.Devices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;
using Xunit;

namespace VirtShell.Tests.Devices;

public sealed class DeviceTypeTests : IDisposable
{
    private static readonly SourceLocation Where = new("/defs/hello.js", 7, 5);

    private readonly ConsoleChannel _console = new(null);
    private readonly GuestMemory _memory = new();
    private readonly List<MachineExit> _exits = [];
    private readonly RecordingInterrupts _irq = new();
    private readonly DeviceContext _context;

    public DeviceTypeTests()
    {
        _context = new DeviceContext(new IoPortBus(), new MmioBus(), _irq, _memory, new MachineServices(_console, _exits.Add, _ => { }));
    }

    public void Dispose()
    {
        _memory.Dispose();
        _console.Dispose();
    }

    private static DeviceSpec Spec(string type, object? settings = null, IPortDevice? implementation = null) => new()
    {
        Type = type,
        Source = Where,
        Implementation = implementation,
        Settings = settings?.GetType().GetProperties().ToDictionary(p => p.Name, p => p.GetValue(settings)) ?? new Dictionary<string, object?>(),
    };

    private static IDeviceType Type(string name) => PcDeviceTypes.Find(name) ?? throw new InvalidOperationException(name);

    private static string Rejected(DeviceSpec spec)
    {
        var e = Assert.Throws<DefinitionException>(() => Type(spec.Type).Validate(spec));
        Assert.StartsWith(spec.Describe(), e.Message);
        Assert.Equal(Where, e.Location);
        return e.Message;
    }

    [Fact]
    public void Catalog_FindsThePcTypesByName()
    {
        Assert.Equal(["uart16550", "debugExit", "ataDisk", "scriptDevice", "fwCfg", "debugConsole"], PcDeviceTypes.All.Select(t => t.Name));
        Assert.NotNull(PcDeviceTypes.Find("debugExit"));
        Assert.Null(PcDeviceTypes.Find("floppy"));
    }

    [Fact]
    public void Uart_Defaults_AreCom1OnIrq4()
    {
        var spec = Spec("uart16550");
        Type("uart16550").Validate(spec);
        Assert.Equal([((ushort)0x3F8, 8)], Type("uart16550").Ports(spec));
    }

    [Fact]
    public void Uart_MisspeltSetting_IsNamed()
    {
        var message = Rejected(Spec("uart16550", new { prot = 0x2F8 }));
        Assert.Contains("'prot'", message);
        Assert.Contains("/defs/hello.js:7", message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0xFFF9)]
    [InlineData(0x10000)]
    public void Uart_PortOutOfRange_IsRejected(int port)
    {
        Assert.Contains("'port'", Rejected(Spec("uart16550", new { port })));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(16)]
    public void Uart_IrqOutOfRange_IsRejected(int irq)
    {
        Assert.Contains("'irq' must be 0..15", Rejected(Spec("uart16550", new { irq })));
    }

    [Fact]
    public void Uart_NonBooleanConsole_IsRejected()
    {
        Assert.Contains("'console'", Rejected(Spec("uart16550", new { console = "yes" })));
    }

    [Fact]
    public void Uart_Attach_PutsItOnTheBusAndTheConsole()
    {
        var spec = Spec("uart16550", new { port = 0x2F8, irq = 3 });
        var uart = Type("uart16550").Attach(spec, _context);
        Assert.NotNull(uart);
        using (uart)
        {
            _context.Ports.Write(0x2F8, 1, (byte)'Z');
            long offset = 0;
            Assert.Equal("Z"u8.ToArray(), _console.ReadFrom(ref offset));
            _context.Ports.Write(0x2FC, 1, 0x08);
            _context.Ports.Write(0x2F9, 1, 0x02);
            Assert.True(_irq.Level(3));
            Assert.Contains(_context.Ports.Claims, c => c.Start == 0x2F8 && c.Length == 8 && c.Owner.StartsWith("uart16550 at /defs/hello.js:7"));
        }
    }

    [Fact]
    public void Uart_WithConsoleOff_DoesNotPrint()
    {
        using var uart = Type("uart16550").Attach(Spec("uart16550", new { console = false }), _context);
        _context.Ports.Write(0x3F8, 1, (byte)'Z');
        Assert.Equal(0, _console.Position);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(8)]
    public void DebugExit_BadSize_IsRejected(int size)
    {
        Assert.Contains("'size' must be 1, 2 or 4", Rejected(Spec("debugExit", new { size })));
    }

    [Fact]
    public void DebugExit_PortPlusSize_MustFit()
    {
        Assert.Contains("'port'", Rejected(Spec("debugExit", new { port = 0xFFFE, size = 4 })));
    }

    [Fact]
    public void DebugExit_UnknownSetting_IsNamed()
    {
        Assert.Contains("'status'", Rejected(Spec("debugExit", new { status = 3 })));
    }

    [Fact]
    public void DebugExit_Attach_PowersOffWithTheStatus()
    {
        var spec = Spec("debugExit", new { port = 0x501, size = 2 });
        Type("debugExit").Validate(spec);
        Assert.Equal([((ushort)0x501, 2)], Type("debugExit").Ports(spec));
        Assert.Null(Type("debugExit").Attach(spec, _context));
        _context.Ports.Write(0x501, 2, 0x31);
        Assert.Equal(0x63, Assert.Single(_exits).Status);
    }

    private sealed class EchoDevice : IPortDevice
    {
        public readonly List<(ushort Port, uint Value)> Writes = [];
        public uint ReadPort(ushort port, int size) => port;
        public void WritePort(ushort port, int size, uint value) => Writes.Add((port, value));
    }

    [Fact]
    public void ScriptDevice_WithoutImplementation_IsRejected()
    {
        Assert.Contains("no implementation", Rejected(Spec("scriptDevice", new { ports = new object[] { 0x300 } })));
    }

    [Fact]
    public void ScriptDevice_MissingOrEmptyPorts_IsRejected()
    {
        Assert.Contains("'ports' is required", Rejected(Spec("scriptDevice", null, new EchoDevice())));
        Assert.Contains("'ports' is empty", Rejected(Spec("scriptDevice", new { ports = Array.Empty<object>() }, new EchoDevice())));
    }

    [Theory]
    [InlineData(0x10000)]
    [InlineData(-5)]
    [InlineData(1.5)]
    [InlineData("0x300")]
    public void ScriptDevice_BadPort_IsRejected(object port)
    {
        Assert.Contains("'ports'[1]", Rejected(Spec("scriptDevice", new { ports = new object[] { 0x300, port } }, new EchoDevice())));
    }

    [Fact]
    public void ScriptDevice_PortsNotAList_IsRejected()
    {
        Assert.Contains("must be a list", Rejected(Spec("scriptDevice", new { ports = 0x300 }, new EchoDevice())));
    }

    [Fact]
    public void ScriptDevice_DuplicatePort_IsRejected()
    {
        Assert.Contains("twice", Rejected(Spec("scriptDevice", new { ports = new object[] { 0x300, 768.0 } }, new EchoDevice())));
    }

    [Fact]
    public void ScriptDevice_Attach_RoutesEachPortToTheScript()
    {
        var echo = new EchoDevice();
        // Numbers arrive from V8 as int or double.
        var spec = Spec("scriptDevice", new { ports = new List<object> { 0x300, 770.0 } }, echo);
        Type("scriptDevice").Validate(spec);
        Assert.Equal([((ushort)0x300, 1), ((ushort)0x302, 1)], Type("scriptDevice").Ports(spec));
        Type("scriptDevice").Attach(spec, _context);
        _context.Ports.Write(0x302, 1, 9);
        Assert.Equal(0x300u, _context.Ports.Read(0x300, 1));
        Assert.Equal(0xFFu, _context.Ports.Read(0x301, 1));
        Assert.Equal([((ushort)0x302, 9u)], echo.Writes);
    }

    [Fact]
    public void ScriptDevice_PortsFromAPersistedSpec_AreRead()
    {
        var json = System.Text.Json.JsonDocument.Parse("[96, 100]").RootElement;
        var spec = Spec("scriptDevice", new { ports = json }, new EchoDevice());
        Type("scriptDevice").Validate(spec);
        Assert.Equal([((ushort)0x60, 1), ((ushort)0x64, 1)], Type("scriptDevice").Ports(spec));
    }

    [Fact]
    public void Chipset_ClaimsPicPitAndPort61_SoAUserDeviceThereConflicts()
    {
        Assert.Equal([((ushort)0x20, 2), ((ushort)0xA0, 2), ((ushort)0x40, 4), ((ushort)0x61, 1)], PcChipset.Ports.Select(p => (p.First, p.Count)));
        using var wake = new WakeSignal();
        var (_, pit) = PcChipset.Attach(_context.Ports, wake);
        using (pit)
        {
            var spec = Spec("debugExit", new { port = 0x43 });
            var e = Assert.Throws<BusConflictException>(() => Type("debugExit").Attach(spec, _context));
            Assert.Contains("8254 PIT", e.Message);
        }
    }
}
