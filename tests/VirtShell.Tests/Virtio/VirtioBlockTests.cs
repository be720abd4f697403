using System.Buffers.Binary;
using VirtShell.Devices.Storage;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Memory;
using VirtShell.Tests.Devices;
using Xunit;

namespace VirtShell.Tests.Virtio;

public sealed class VirtioBlockTests : IDisposable
{
    private const ulong Base = 0xD000_0000, Header = 0x80000, Status = 0x80100, Buffer = 0x90000, Table = 0xA0000;
    private const int Sectors = 64;
    private const byte Ok = 0, IoError = 1, Unsupported = 2;

    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-blk-").FullName;
    private readonly string _path;
    private readonly byte[] _original;
    private readonly GuestMemory _memory = new();
    private readonly MmioBus _bus = new();
    private readonly List<string> _log = [];
    private VirtioBlock? _device;
    private GuestDriver _driver = null!;

    public VirtioBlockTests()
    {
        _memory.AddRam(0, 0x20_0000);
        _path = Path.Combine(_folder, "disk.img");
        _original = new byte[Sectors * 512];
        new Random(5).NextBytes(_original);
        File.WriteAllBytes(_path, _original);
    }

    public void Dispose()
    {
        _device?.Dispose();
        _memory.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private void Attach(bool readOnly = false)
    {
        _device = new VirtioBlock("virtioBlk", _memory, DiskImage.Open(_path, readOnly), "vs-disk-0", _log.Add);
        _bus.Register(Base, VirtioMmioTransport.WindowSize, new VirtioMmioTransport(_device, Base, 6, new RecordingInterrupts()), "virtioBlk");
        _driver = new GuestDriver(_memory, _bus, Base);
        Assert.True(_driver.Negotiate(_driver.DeviceFeatures()));
        _driver.SetupQueue(0, 16, 0x10000);
        _driver.DriverOk();
    }

    /// <summary>Sends one request and returns its status byte and the used length.</summary>
    private (byte Status, uint Used) Request(uint type, ulong sector, params Desc[] data)
    {
        var header = _memory.GetSpan(Header, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(header, type);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(header[8..], sector);
        _memory.Write(Status, [0xEE]);
        _driver.AddChain(0, [new Desc(Header, 16), .. data, new Desc(Status, 1, Desc.Write)]);
        _driver.Notify(0);
        var used = Assert.Single(_driver.TakeUsed(0));
        return (_memory.Read(Status, 1)[0], used.Length);
    }

    private byte[] FileBytes() => ImageFile.Read(_path, Sectors * 512);

    private static byte[] Pattern(int length, byte seed)
    {
        var p = new byte[length];
        for (int i = 0; i < length; i++) p[i] = (byte)(seed + i * 7);
        return p;
    }

    [Fact]
    public void Config_GivesTheCapacityInSectors_AndFeaturesSayFlushNotReadOnly()
    {
        Attach();
        Assert.Equal((uint)Sectors, _driver.Read(0x100));
        Assert.Equal(0u, _driver.Read(0x104));
        ulong features = _driver.DeviceFeatures();
        Assert.NotEqual(0UL, features & 1UL << 9);
        Assert.Equal(0UL, features & 1UL << 5);
    }

    [Fact]
    public void Write_IsInTheFile_WhenTheUsedRingSaysDone_AndReadsBack()
    {
        Attach();
        var pattern = Pattern(3 * 512, 11);
        _memory.Write(Buffer, pattern);
        // Data split over two descriptors, not on a sector boundary.
        Assert.Equal((Ok, 1u), Request(1, 5, new Desc(Buffer, 700), new Desc(Buffer + 700, 3 * 512 - 700)));
        var file = FileBytes();
        Assert.Equal(pattern, file.AsSpan(5 * 512, 3 * 512).ToArray());
        Assert.Equal(_original.AsSpan(0, 5 * 512).ToArray(), file.AsSpan(0, 5 * 512).ToArray());
        Assert.Equal(_original.AsSpan(8 * 512).ToArray(), file.AsSpan(8 * 512).ToArray());

        _memory.GetSpan(Buffer, 4 * 512).Clear();
        Assert.Equal((Ok, 4 * 512 + 1u), Request(0, 4, new Desc(Buffer, 4 * 512, Desc.Write)));
        Assert.Equal(file.AsSpan(4 * 512, 4 * 512).ToArray(), _memory.Read(Buffer, 4 * 512));
    }

    [Fact]
    public void Request_ThroughAnIndirectTable_IsServed()
    {
        Attach();
        var header = _memory.GetSpan(Header, 16);
        header.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(header[8..], 2);
        _driver.WriteDescriptor(Table, 0, new Desc(Header, 16, Desc.Next_, 1));
        _driver.WriteDescriptor(Table, 1, new Desc(Buffer, 512, Desc.Write | Desc.Next_, 2));
        _driver.WriteDescriptor(Table, 2, new Desc(Status, 1, Desc.Write));
        _driver.AddChain(0, new Desc(Table, 48, Desc.Indirect));
        _driver.Notify(0);
        Assert.Equal([(0u, 513u)], _driver.TakeUsed(0));
        Assert.Equal(Ok, _memory.Read(Status, 1)[0]);
        Assert.Equal(_original.AsSpan(1024, 512).ToArray(), _memory.Read(Buffer, 512));
    }

    [Theory]
    [InlineData(1u, Sectors - 1UL, 1024)]   // runs past the end
    [InlineData(1u, (ulong)Sectors, 512)]   // starts at the end
    [InlineData(1u, ulong.MaxValue, 512)]   // the byte offset would overflow
    [InlineData(1u, 0UL, 100)]              // not whole sectors
    [InlineData(0u, Sectors - 1UL, 1024)]
    [InlineData(0u, ulong.MaxValue / 512 + 1, 512)]
    public void OutOfRangeOrPartialSectors_FailWithIoError_AndTouchNothing(uint type, ulong sector, int length)
    {
        Attach();
        _memory.Write(Buffer, Pattern(length, 3));
        var flags = type == 0 ? Desc.Write : (ushort)0;
        Assert.Equal((IoError, 1u), Request(type, sector, new Desc(Buffer, (uint)length, flags)));
        Assert.Equal(_original, FileBytes());
        Assert.Equal(Pattern(length, 3), _memory.Read(Buffer, length));
    }

    [Fact]
    public void ReadOnlyImage_OffersRO_AndRefusesWrites()
    {
        Attach(readOnly: true);
        Assert.NotEqual(0UL, _driver.DeviceFeatures() & 1UL << 5);
        _memory.Write(Buffer, Pattern(512, 1));
        Assert.Equal(IoError, Request(1, 0, new Desc(Buffer, 512)).Status);
        Assert.Equal(_original, FileBytes());
        Assert.Equal(Ok, Request(0, 0, new Desc(Buffer, 512, Desc.Write)).Status);
    }

    [Fact]
    public void FlushGetIdAndUnknownTypes_Answer()
    {
        Attach();
        Assert.Equal((Ok, 1u), Request(4, 0));
        _memory.GetSpan(Buffer, 20).Fill(0xAA);
        Assert.Equal((Ok, 21u), Request(8, 0, new Desc(Buffer, 20, Desc.Write)));
        Assert.Equal("vs-disk-0"u8.ToArray().Concat(new byte[11]), _memory.Read(Buffer, 20));
        Assert.Equal(Unsupported, Request(99, 0).Status);
    }

    [Fact]
    public void RequestWithoutHeaderOrStatus_NeedsReset()
    {
        Attach();
        _driver.AddChain(0, new Desc(Header, 8), new Desc(Status, 1, Desc.Write));
        _driver.Notify(0);
        Assert.True(_driver.Status.HasFlag(VirtioStatus.DeviceNeedsReset));
        Assert.Contains(_log, l => l.Contains("header"));
    }

    [Fact]
    public void Image_IsLocked_AgainstASecondWriter_ButSharedBetweenReaders()
    {
        using (var writer = DiskImage.Open(_path, readOnly: false))
        {
            Assert.Contains("in use", Assert.Throws<DiskImageException>(() => DiskImage.Open(_path, readOnly: false)).Message);
            Assert.Contains("in use", Assert.Throws<DiskImageException>(() => DiskImage.Open(_path, readOnly: true)).Message);
        }
        using var reader = DiskImage.Open(_path, readOnly: true);
        using var second = DiskImage.Open(_path, readOnly: true);
        Assert.Contains("in use", Assert.Throws<DiskImageException>(() => DiskImage.Open(_path, readOnly: false)).Message);
    }

    [Fact]
    public void MissingImage_SaysSo()
    {
        var e = Assert.Throws<DiskImageException>(() => DiskImage.Open(Path.Combine(_folder, "nope.img"), readOnly: false));
        Assert.Contains("does not exist", e.Message);
        Assert.Contains("nope.img", e.Message);
    }
}
