using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using VirtShell.Devices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;
using VirtShell.Tests.Devices;
using Xunit;

namespace VirtShell.Tests.Virtio;

public sealed class ParavirtualDeviceTypeTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-pv-").FullName;
    private readonly SourceLocation _where;
    private readonly ConsoleChannel _console = new(null);
    private readonly GuestMemory _memory = new();
    private readonly List<MachineExit> _exits = [];
    private readonly List<IDisposable> _attached = [];
    private readonly DeviceContext _context;

    public ParavirtualDeviceTypeTests()
    {
        _where = new SourceLocation(Path.Combine(_folder, "pv.js"), 9, 3);
        _memory.AddRam(0, 0x10_0000);
        _context = new DeviceContext(new IoPortBus(), new MmioBus(), new RecordingInterrupts(), _memory, new MachineServices(_console, _exits.Add, _ => { }));
        File.WriteAllBytes(Path.Combine(_folder, "disk.img"), new byte[64 * 512]);
        File.WriteAllText(Path.Combine(_folder, "hello.txt"), "hi from the host");
    }

    public void Dispose()
    {
        foreach (var d in _attached) d.Dispose();
        _memory.Dispose();
        _console.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private DeviceSpec Spec(string type, Dictionary<string, object?> settings) => new() { Type = type, Source = _where, Settings = settings };

    private static IDeviceType Type(string name) => BuiltInDevices.Catalog.Find(name) ?? throw new InvalidOperationException(name);

    private string Rejected(DeviceSpec spec)
    {
        var e = Assert.Throws<DefinitionException>(() => Type(spec.Type).Validate(spec));
        Assert.StartsWith(spec.Describe(), e.Message);
        Assert.Equal(_where, e.Location);
        return e.Message;
    }

    private void Attach(DeviceSpec spec)
    {
        Type(spec.Type).Validate(spec);
        if (Type(spec.Type).Attach(spec, _context) is { } d) _attached.Add(d);
    }

    [Theory]
    [InlineData("address", null, "'address' is required")]
    [InlineData("address", 0xd0000100L, "aligned to 0x200")]
    [InlineData("address", -512L, "aligned to 0x200")]
    [InlineData("irq", 16L, "'irq' must be 0..15")]
    [InlineData("transport", "usb", "'transport' must be 'mmio' or 'pci', not 'usb'")]
    [InlineData("slot", 3L, "'slot' is for transport 'pci'")]
    [InlineData("transport", 3L, "'transport' must be a string")]
    [InlineData("adress", 0xd0000000L, "unknown setting 'adress'")]
    public void TransportSettings_AreChecked(string key, object? value, string message)
    {
        var settings = new Dictionary<string, object?> { ["address"] = 0xd0000000L, [key] = value };
        if (value is null) settings.Remove(key);
        Assert.Contains(message, Rejected(Spec("virtioRng", settings)));
    }

    [Fact]
    public void VirtioConsole_AppearsOnTheMmioBus_AsAVirtioConsole()
    {
        Attach(Spec("virtioConsole", new() { ["address"] = 0xd0000000L, ["irq"] = 5L }));
        Assert.Equal(0x74726976UL, _context.Mmio.Read(0xd0000000, 4));
        Assert.Equal(3UL, _context.Mmio.Read(0xd0000008, 4));
        Assert.Equal([(0xd0000000UL, 0x200UL)], ((IMmioDeviceType)Type("virtioConsole")).MmioRanges(Spec("virtioConsole", new() { ["address"] = 0xd0000000L })));
    }

    [Fact]
    public void Address_InRam_OrOverlappingAnotherDevice_IsADefinitionError()
    {
        var inRam = Spec("virtioRng", new() { ["address"] = 0x8000L });
        Assert.Contains("lies in the machine's RAM", Assert.Throws<DefinitionException>(() => Type("virtioRng").Attach(inRam, _context)).Message);

        Attach(Spec("virtioRng", new() { ["address"] = 0xd0000000L }));
        var clash = Spec("virtioConsole", new() { ["address"] = 0xd0000000L });
        var e = Assert.Throws<DefinitionException>(() => Type("virtioConsole").Attach(clash, _context));
        Assert.StartsWith(clash.Describe(), e.Message);
        Assert.Contains("overlaps", e.Message);
        Assert.Equal(_where, e.Location);
    }

    [Fact]
    public void VirtioBlk_ResolvesTheImageFromTheDefinitionsFolder_AndReportsTheCapacity()
    {
        Attach(Spec("virtioBlk", new() { ["address"] = 0xd0000000L, ["image"] = "disk.img" }));
        Assert.Equal(2UL, _context.Mmio.Read(0xd0000008, 4));
        Assert.Equal(64UL, _context.Mmio.Read(0xd0000100, 4));
    }

    [Fact]
    public void VirtioBlk_BadSettings_AreNamed()
    {
        Assert.Contains("'image' is required", Rejected(Spec("virtioBlk", new() { ["address"] = 0xd0000000L })));
        Assert.Contains("does not exist", Rejected(Spec("virtioBlk", new() { ["address"] = 0xd0000000L, ["image"] = "missing.img" })));
        Assert.Contains("is a directory", Rejected(Spec("virtioBlk", new() { ["address"] = 0xd0000000L, ["image"] = "." })));
        Assert.Contains("'readOnly' must be true or false",
            Rejected(Spec("virtioBlk", new() { ["address"] = 0xd0000000L, ["image"] = "disk.img", ["readOnly"] = "yes" })));
        Assert.Contains("'serial' must be at most 20",
            Rejected(Spec("virtioBlk", new() { ["address"] = 0xd0000000L, ["image"] = "disk.img", ["serial"] = new string('s', 21) })));
    }

    [Fact]
    public void VirtioBlk_ImageInUseByAnotherMachine_IsAClearStartError()
    {
        Attach(Spec("virtioBlk", new() { ["address"] = 0xd0000000L, ["image"] = "disk.img" }));
        var second = Spec("virtioBlk", new() { ["address"] = 0xd0000200L, ["image"] = Path.Combine(_folder, "disk.img"), ["readOnly"] = true });
        Type("virtioBlk").Validate(second);
        var e = Assert.Throws<DefinitionException>(() => Type("virtioBlk").Attach(second, _context));
        Assert.StartsWith(second.Describe(), e.Message);
        Assert.Contains("is in use by another machine", e.Message);
    }

    [Fact]
    public void Hypercalls_BadBlobs_AreNamed()
    {
        Assert.Contains("does not exist", Rejected(Spec("hypercalls", new() { ["blobs"] = new Dictionary<string, object?> { ["motd"] = "nope.txt" } })));
        Assert.Contains("blob name 'a b'", Rejected(Spec("hypercalls", new() { ["blobs"] = new Dictionary<string, object?> { ["a b"] = "hello.txt" } })));
        Assert.Contains("'blobs.x' must be a string", Rejected(Spec("hypercalls", new() { ["blobs"] = new Dictionary<string, object?> { ["x"] = 5L } })));
        Assert.Contains("'blobs' must be an object", Rejected(Spec("hypercalls", new() { ["blobs"] = "hello.txt" })));
        Assert.Contains("'port' must be 0x0..0xfffc", Rejected(Spec("hypercalls", new() { ["port"] = 0xfffeL })));
    }

    [Fact]
    public void Hypercalls_FromAStoredSpec_ServeTheBlobTheDefinitionNamed()
    {
        // A machine's stored spec brings settings back as JSON elements.
        using var json = JsonDocument.Parse("""{ "port": 22096, "blobs": { "greeting": "hello.txt" } }""");
        var settings = json.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        Attach(Spec("hypercalls", settings));

        _memory.Write(0x2000, "greeting"u8);
        var block = _memory.GetSpan(0x1000, 64);
        block.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(block, 0x43485356);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], 4);
        BinaryPrimitives.WriteUInt64LittleEndian(block[8..], 0x2000);
        BinaryPrimitives.WriteUInt64LittleEndian(block[16..], 8);
        BinaryPrimitives.WriteUInt64LittleEndian(block[24..], 0x3000);
        BinaryPrimitives.WriteUInt64LittleEndian(block[32..], 64);
        _context.Ports.Write(22096, 4, 0x1000);
        Assert.Equal(16, BinaryPrimitives.ReadInt64LittleEndian(block[48..]));
        Assert.Equal("hi from the host", Encoding.ASCII.GetString(_memory.Read(0x3000, 16)));
    }
}
