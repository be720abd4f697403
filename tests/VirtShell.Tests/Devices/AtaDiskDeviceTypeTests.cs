using VirtShell.Devices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;

namespace VirtShell.Tests.Devices;

public sealed class AtaDiskDeviceTypeTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-atatype-").FullName;
    private readonly SourceLocation _where;
    private readonly ConsoleChannel _console = new(null);
    private readonly GuestMemory _memory = new();
    private readonly RecordingInterrupts _irq = new();
    private readonly List<IDisposable> _attached = [];

    public AtaDiskDeviceTypeTests()
    {
        _where = new SourceLocation(Path.Combine(_folder, "pc.js"), 6, 5);
        File.WriteAllBytes(Path.Combine(_folder, "disk.img"), new byte[16 * 512]);
    }

    public void Dispose()
    {
        foreach (var d in _attached) d.Dispose();
        _memory.Dispose();
        _console.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private static IDeviceType Type => BuiltInDevices.Catalog.Find("ataDisk") ?? throw new InvalidOperationException("no ataDisk type");

    private DeviceSpec Spec(Dictionary<string, object?> settings) => new() { Type = "ataDisk", Source = _where, Settings = settings };

    private DeviceContext NewContext() =>
        new(new IoPortBus(), new MmioBus(), _irq, _memory, new MachineServices(_console, _ => { }, _ => { }));

    private string Rejected(DeviceSpec spec)
    {
        var e = Assert.Throws<DefinitionException>(() => Type.Validate(spec));
        Assert.StartsWith(spec.Describe(), e.Message);
        Assert.Equal(_where, e.Location);
        return e.Message;
    }

    private string AttachFails(DeviceSpec spec)
    {
        Type.Validate(spec);
        var e = Assert.Throws<DefinitionException>(() => Type.Attach(spec, NewContext()));
        Assert.StartsWith(spec.Describe(), e.Message);
        Assert.Equal(_where, e.Location);
        return e.Message;
    }

    [Fact]
    public void Attach_ClaimsThePrimaryChannel_AndAnswersAsAReadyDisk()
    {
        var spec = Spec(new() { ["image"] = "disk.img" });
        Type.Validate(spec);
        Assert.Equal([((ushort)0x1F0, 8), ((ushort)0x3F6, 1)], Type.Ports(spec));
        var context = NewContext();
        _attached.Add(Type.Attach(spec, context)!);
        Assert.Equal(0x50u, context.Ports.Read(0x1F7, 1));
        Assert.Equal(0x50u, context.Ports.Read(0x3F6, 1));
        Assert.Contains(context.Ports.Claims, c => c.Start == 0x1F0 && c.Length == 8 && c.Owner.StartsWith("ataDisk at "));
    }

    [Fact]
    public void BadSettings_AreNamed()
    {
        Assert.Contains("'image' is required", Rejected(Spec(new())));
        Assert.Contains("does not exist", Rejected(Spec(new() { ["image"] = "missing.img" })));
        Assert.Contains(Path.Combine(_folder, "missing.img"), Rejected(Spec(new() { ["image"] = "missing.img" })));
        Assert.Contains("is a directory", Rejected(Spec(new() { ["image"] = "." })));
        Assert.Contains("'readOnly' must be true or false", Rejected(Spec(new() { ["image"] = "disk.img", ["readOnly"] = "yes" })));
        Assert.Contains("unknown setting 'port'", Rejected(Spec(new() { ["image"] = "disk.img", ["port"] = 0x170L })));
    }

    [Fact]
    public void AnImageInUse_IsAClearStartError_NamingTheImage()
    {
        _attached.Add(Type.Attach(Spec(new() { ["image"] = "disk.img" }), NewContext())!);
        var message = AttachFails(Spec(new() { ["image"] = "disk.img", ["readOnly"] = true }));
        Assert.Contains($"disk image '{Path.Combine(_folder, "disk.img")}' is in use by another machine", message);
    }

    [Fact]
    public void AnImageThatCannotBeWritten_SaysToAttachItReadOnly()
    {
        // A sysfs file without a write method refuses O_RDWR even to root, as a file on a read-only mount would.
        const string readOnlyFile = "/sys/devices/system/cpu/possible";
        var message = AttachFails(Spec(new() { ["image"] = readOnlyFile }));
        Assert.Contains($"disk image '{readOnlyFile}' cannot be opened for writing", message);
        Assert.Contains("readOnly: true", message);
        _attached.Add(Type.Attach(Spec(new() { ["image"] = readOnlyFile, ["readOnly"] = true }), NewContext())!);
    }
}
