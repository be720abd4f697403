using System.Buffers.Binary;
using System.Text;
using VirtShell.Devices.Platform;
using VirtShell.Engine.Buses;

namespace VirtShell.Tests.Devices;

/// <summary>fw_cfg's port interface as SeaBIOS reads it: selector at 0x510, bytes from 0x511.</summary>
public sealed class FwCfgTests
{
    private readonly IoPortBus _bus = new();
    private readonly FwCfg _fwCfg = new(noGraphic: true);

    public FwCfgTests() => _fwCfg.Register(_bus);

    private byte[] Read(ushort key, int length)
    {
        _bus.Write(FwCfg.SelectorPort, 2, key);
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)_bus.Read(FwCfg.DataPort, 1);
        return bytes;
    }

    [Fact]
    public void TheSignatureIsQemu_AndTheIdOffersThePortInterfaceWithoutDma()
    {
        Assert.Equal("QEMU", Encoding.ASCII.GetString(Read(FwCfg.SignatureKey, 4)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(Read(FwCfg.IdKey, 4)));
    }

    [Fact]
    public void Selecting_RestartsTheItem_AndReadsPastItsEndAreZero()
    {
        Read(FwCfg.SignatureKey, 2);
        Assert.Equal("QEMU\0\0"u8.ToArray(), Read(FwCfg.SignatureKey, 6));
        Assert.Equal(new byte[4], Read(0x1234, 4));              // an unknown key: an empty item
    }

    [Fact]
    public void FixedKeys_GiveOneCpuAndTheNoGraphicFlag()
    {
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(Read(FwCfg.CpuCountKey, 2)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(Read(FwCfg.NoGraphicKey, 2)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(Read(FwCfg.BootMenuKey, 2)));
    }

    [Fact]
    public void TheFileDirectory_ListsEachFileBigEndian_AndItsSelectorReadsTheContents()
    {
        var e820 = FwCfg.E820Table([(0, 32UL << 20, 1)]);
        _fwCfg.AddFile("etc/e820", e820);
        _fwCfg.AddFile("bootorder", "/pci@i0cf8/*@1,1/drive@0/disk@0\n"u8.ToArray());

        var count = Read(FwCfg.FileDirectoryKey, 4);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(count));
        var directory = Read(FwCfg.FileDirectoryKey, 4 + 2 * FwCfg.DirectoryEntrySize).AsSpan(4);
        var second = directory[FwCfg.DirectoryEntrySize..];
        Assert.Equal((uint)e820.Length, BinaryPrimitives.ReadUInt32BigEndian(directory));
        Assert.Equal("etc/e820", Encoding.ASCII.GetString(directory.Slice(8, FwCfg.FileNameLength)).TrimEnd('\0'));
        Assert.Equal("bootorder", Encoding.ASCII.GetString(second.Slice(8, FwCfg.FileNameLength)).TrimEnd('\0'));

        ushort select = BinaryPrimitives.ReadUInt16BigEndian(directory[4..]);
        Assert.True(select >= FwCfg.FirstFileKey);
        var table = Read(select, 20);
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(table));
        Assert.Equal(32UL << 20, BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(8)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(table.AsSpan(16)));
    }

    [Fact]
    public void AWideDataRead_ReturnsTheNextBytesInOrder()
    {
        _bus.Write(FwCfg.SelectorPort, 2, FwCfg.SignatureKey);
        Assert.Equal(0x554D_4551u, _bus.Read(FwCfg.DataPort, 4)); // "QEMU"
    }

    [Fact]
    public void TheDataPortIgnoresWrites()
    {
        _bus.Write(FwCfg.SelectorPort, 2, FwCfg.SignatureKey);
        _bus.Write(FwCfg.DataPort, 1, 0x41);
        Assert.Equal("QEMU", Encoding.ASCII.GetString(Read(FwCfg.SignatureKey, 4)));
    }
}
