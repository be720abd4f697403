using VirtShell.Devices;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Definitions;
using VirtShell.Models.Pc;
using Xunit;

namespace VirtShell.Tests.Models;

/// <summary>
/// Files a definition hands the guest whole (issue 13): /dev/zero and friends used to pass validation and then be read
/// until the host ran out of memory. They are refused when the definition is validated, and a read stays bounded.
/// </summary>
public sealed class GuestFileValidationTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-files-").FullName;
    private readonly SourceLocation _where;

    public GuestFileValidationTests() => _where = new SourceLocation(Path.Combine(_folder, "def.js"), 4, 3);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string name, int bytes)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, new byte[bytes]);
        return path;
    }

    private MachineSpec Machine(string image, string? initrd = null, ulong memory = 64 * 1024) => new()
    {
        Name = "files",
        Model = "emulated",
        MemoryBytes = memory,
        Source = _where,
        Boot = new BootSpec { Kind = BootKind.Flat, Image = image, Initrd = initrd, Source = _where },
    };

    private static string Refused(MachineSpec spec) =>
        Assert.Throws<DefinitionException>(() => PcPlatform.Validate(spec)).Message;

    [Theory]
    [InlineData("/dev/zero", "is a character device, not a regular file")]
    [InlineData("/dev/urandom", "is a character device, not a regular file")]
    [InlineData("/tmp", "is a directory, not a regular file")]
    public void ABootImageMustBeARegularFile(string image, string expected)
    {
        var e = Assert.Throws<DefinitionException>(() => PcPlatform.Validate(Machine(image)));
        Assert.Contains($"boot image '{image}' {expected}", e.Message);
        Assert.Equal(_where, e.Location);
    }

    [Fact]
    public void ASymlinkToADeviceAndAFifoAreRefusedToo()
    {
        string link = Path.Combine(_folder, "zero.bin");
        File.CreateSymbolicLink(link, "/dev/zero");
        Assert.Contains("is a character device", Refused(Machine(link)));

        string fifo = Path.Combine(_folder, "fifo.bin");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        Assert.Contains($"initrd '{fifo}' is a FIFO, not a regular file", Refused(Machine(Write("ok.bin", 512), fifo)));
    }

    [Fact]
    public void BootFilesMustFitTheMachinesMemory()
    {
        string image = Write("big.bin", 64 * 1024 + 1);
        Assert.Contains($"boot image '{image}' has 65537 bytes, more than the machine's memory (64 KiB)", Refused(Machine(image)));
        PcPlatform.Validate(Machine(Write("fits.bin", 64 * 1024)));
    }

    [Fact]
    public void ReadingADeviceFailsAtOnceInsteadOfExhaustingMemory()
    {
        var e = Assert.Throws<IOException>(() => GuestFiles.Read("/dev/zero", 1 << 20, "a megabyte"));
        Assert.Equal("it is a character device, not a regular file", e.Message);
        Assert.Equal(512, GuestFiles.Read(Write("small.bin", 512), 1 << 20, "a megabyte").Length);
        Assert.Contains("has 513 bytes, more than a half", Assert.Throws<IOException>(() => GuestFiles.Read(Write("more.bin", 513), 512, "a half")).Message);
    }

    [Theory]
    [InlineData("/dev/zero")]
    [InlineData("/dev/urandom")]
    public void AHypercallBlobMustBeARegularFile(string blob)
    {
        var spec = new DeviceSpec
        {
            Type = "hypercalls",
            Source = _where,
            Settings = new Dictionary<string, object?> { ["blobs"] = new Dictionary<string, object?> { ["data"] = blob } },
        };
        var type = BuiltInDevices.Catalog.Find("hypercalls")!;
        var e = Assert.Throws<DefinitionException>(() => type.Validate(spec));
        Assert.Contains($"blob 'data': {blob} is a character device, not a regular file", e.Message);
        Assert.Equal(_where, e.Location);
    }
}
