using VirtShell.Devices.Storage;
using VirtShell.Engine.Buses;

namespace VirtShell.Tests.Devices;

/// <summary>The ATA disk through its ports, as a PIO driver sees it.</summary>
public sealed class AtaDiskTests : IDisposable
{
    private const ushort Base = 0x1F0, Control = 0x3F6;
    private const ushort DataPort = Base, Error = Base + 1, Features = Base + 1, Count = Base + 2, LbaLow = Base + 3,
        LbaMid = Base + 4, LbaHigh = Base + 5, Device = Base + 6, Status = Base + 7, Command = Base + 7;
    private const byte Bsy = 0x80, Drdy = 0x40, Dsc = 0x10, Drq = 0x08, Err = 0x01;
    private const byte Abrt = 0x04, Idnf = 0x10;
    private const byte Lba = 0xE0; // device register: LBA, device 0, obsolete bits set
    private const int Sectors = 64, Irq = 14;

    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-ata-").FullName;
    private readonly string _path;
    private readonly byte[] _original;
    private readonly IoPortBus _bus = new();
    private readonly RecordingInterrupts _interrupts = new();
    private readonly List<string> _log = [];
    private AtaDisk? _disk;

    public AtaDiskTests()
    {
        _path = Path.Combine(_folder, "disk.img");
        _original = new byte[Sectors * 512];
        new Random(14).NextBytes(_original);
        File.WriteAllBytes(_path, _original);
    }

    public void Dispose()
    {
        _disk?.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private void Attach(bool readOnly = false, string? path = null)
    {
        _disk = new AtaDisk(DiskImage.Open(path ?? _path, readOnly), "disk.img", _interrupts, _log.Add);
        foreach (var (first, count) in AtaDisk.Ports) _bus.Register(first, count, _disk, "ataDisk");
    }

    private byte In(ushort port) => (byte)_bus.Read(port, 1);
    private void Out(ushort port, byte value) => _bus.Write(port, 1, value);
    private byte AltStatus => In(Control);

    private void Lba28Command(byte command, uint lba, byte count)
    {
        Out(Count, count);
        Out(LbaLow, (byte)lba);
        Out(LbaMid, (byte)(lba >> 8));
        Out(LbaHigh, (byte)(lba >> 16));
        Out(Device, (byte)(Lba | (lba >> 24) & 0x0F));
        Out(Command, command);
    }

    private void Lba48Command(byte command, ulong lba, ushort count)
    {
        Out(Count, (byte)(count >> 8));
        Out(LbaLow, (byte)(lba >> 24));
        Out(LbaMid, (byte)(lba >> 32));
        Out(LbaHigh, (byte)(lba >> 40));
        Out(Count, (byte)count);
        Out(LbaLow, (byte)lba);
        Out(LbaMid, (byte)(lba >> 8));
        Out(LbaHigh, (byte)(lba >> 16));
        Out(Device, Lba);
        Out(Command, command);
    }

    private byte[] ReadBlock()
    {
        var block = new byte[512];
        for (int i = 0; i < 512; i += 2)
        {
            ushort w = (ushort)_bus.Read(DataPort, 2);
            block[i] = (byte)w;
            block[i + 1] = (byte)(w >> 8);
        }
        return block;
    }

    private void WriteBlock(ReadOnlySpan<byte> block)
    {
        for (int i = 0; i < 512; i += 2) _bus.Write(DataPort, 2, (uint)(block[i] | block[i + 1] << 8));
    }

    private ushort[] Identify()
    {
        Out(Device, 0xA0);
        Out(Command, 0xEC);
        Assert.Equal(Drdy | Dsc | Drq, In(Status));
        var block = ReadBlock();
        Assert.Equal(Drdy | Dsc, In(Status));
        return Enumerable.Range(0, 256).Select(i => (ushort)(block[2 * i] | block[2 * i + 1] << 8)).ToArray();
    }

    private static string AtaString(ushort[] id, int first, int words) =>
        string.Concat(Enumerable.Range(first, words).Select(i => $"{(char)(id[i] >> 8)}{(char)(id[i] & 0xFF)}"));

    private static byte[] Pattern(int length, byte seed)
    {
        var p = new byte[length];
        for (int i = 0; i < length; i++) p[i] = (byte)(seed + i * 13 + i / 512);
        return p;
    }

    private byte[] FileBytes() => ImageFile.Read(_path, Sectors * 512);

    [Fact]
    public void AtPowerOn_TheTaskFileHoldsTheAtaSignature_AndTheDiskIsReady()
    {
        Attach();
        Assert.Equal([1, 1, 0, 0], new[] { In(Count), In(LbaLow), In(LbaMid), In(LbaHigh) });
        Assert.Equal(0x01, In(Error));
        Assert.Equal(Drdy | Dsc, In(Status));
        Assert.Equal(Drdy | Dsc, AltStatus);
        Assert.False(_interrupts.Level(Irq));
    }

    [Fact]
    public void Identify_DescribesAnLbaDiskWith48BitAddressesAndFlush()
    {
        Attach();
        var id = Identify();
        Assert.Equal(0x0040, id[0]);
        Assert.Equal("disk.img".PadRight(20), AtaString(id, 10, 10));
        Assert.Equal("1.0".PadRight(8), AtaString(id, 23, 4));
        Assert.Equal("VirtShell ATA disk".PadRight(40), AtaString(id, 27, 20));
        Assert.NotEqual(0, id[49] & 1 << 9);               // LBA
        Assert.Equal(0, id[49] & 1 << 8);                  // no DMA
        Assert.Equal((uint)Sectors, id[60] | (uint)id[61] << 16);
        Assert.Equal(0x4000, id[83] & 0xC000);             // word 83 is valid
        Assert.Equal(0x3400, id[83] & 0x3400);             // FLUSH CACHE EXT, FLUSH CACHE, 48-bit
        Assert.Equal(0x3400, id[86] & 0x3400);
        Assert.Equal(0x4000, id[87] & 0xC000);
        Assert.NotEqual(0, id[85] & 1 << 5);               // write cache enabled: a driver must flush
        Assert.Equal((ulong)Sectors, id[100] | (ulong)id[101] << 16 | (ulong)id[102] << 32 | (ulong)id[103] << 48);
        Assert.Equal(0xA5, id[255] & 0xFF);
        Assert.Equal(0, id.Sum(w => (w & 0xFF) + (w >> 8)) & 0xFF);
    }

    [Fact]
    public void Identify_GivesTheChsGeometry_AndTheSectorSizeTheBochsBiosReads()
    {
        Attach();
        var id = Identify();
        Assert.Equal(512, id[5]);                          // the Bochs BIOS's PIO block: 0 left it reading nothing
        Assert.Equal((16, 63), (id[3], id[6]));
        Assert.Equal(0x0001, id[53] & 1);                  // words 54-58, the current geometry, are valid
        Assert.Equal((id[1], id[3], id[6]), (id[54], id[55], id[56]));
    }

    [Fact]
    public void Identify_OfADiskPast28BitAddresses_CapsWords60And61_AndGivesTheSizeIn100To103()
    {
        string big = Path.Combine(_folder, "big.img");
        const long sectors = (1L << 28) + 5;
        using (var f = File.Create(big)) f.SetLength(sectors * 512); // sparse
        Attach(path: big);
        var id = Identify();
        Assert.Equal(0x0FFF_FFFFu, id[60] | (uint)id[61] << 16);
        Assert.Equal((ulong)sectors, id[100] | (ulong)id[101] << 16 | (ulong)id[102] << 32 | (ulong)id[103] << 48);
    }

    [Fact]
    public void WriteSectors_PutsTheDataInTheImageFile_AndReadSectorsGivesItBack()
    {
        Attach();
        var data = Pattern(3 * 512, 7);
        Lba28Command(0x30, 5, 3);
        for (int s = 0; s < 3; s++)
        {
            Assert.Equal(Drdy | Dsc | Drq, AltStatus);
            WriteBlock(data.AsSpan(s * 512, 512));
            // Each sector is in the file as soon as its last word is written.
            Assert.Equal(data.AsSpan(s * 512, 512).ToArray(), FileBytes().AsSpan((5 + s) * 512, 512).ToArray());
        }
        Assert.Equal(Drdy | Dsc, In(Status));
        var file = FileBytes();
        Assert.Equal(_original.AsSpan(0, 5 * 512).ToArray(), file.AsSpan(0, 5 * 512).ToArray());
        Assert.Equal(_original.AsSpan(8 * 512).ToArray(), file.AsSpan(8 * 512).ToArray());

        Lba28Command(0x20, 4, 5);
        var read = new List<byte>();
        for (int s = 0; s < 5; s++)
        {
            Assert.Equal(Drdy | Dsc | Drq, In(Status));
            read.AddRange(ReadBlock());
        }
        Assert.Equal(Drdy | Dsc, In(Status));
        Assert.Equal(file.AsSpan(4 * 512, 5 * 512).ToArray(), read.ToArray());
    }

    [Fact]
    public void SectorCountZero_Means256Sectors_InA28BitCommand()
    {
        string big = Path.Combine(_folder, "big.img");
        File.WriteAllBytes(big, new byte[300 * 512]);
        Attach(path: big);
        Lba28Command(0x20, 0, 0);
        for (int s = 0; s < 256; s++)
        {
            Assert.Equal(Drdy | Dsc | Drq, In(Status));
            ReadBlock();
        }
        Assert.Equal(Drdy | Dsc, In(Status));
    }

    [Fact]
    public void Lba48Commands_TakeTheHighOrderBytes_WhichHobReadsBack()
    {
        Attach();
        Out(Count, 0x12);
        Out(Count, 0x34);
        Out(Control, 0x80);
        Assert.Equal(0x12, In(Count));
        Out(LbaLow, 0x56); // a write to any command block register clears HOB
        Assert.Equal(0x34, In(Count));

        var data = Pattern(2 * 512, 99);
        Lba48Command(0x34, 60, 2);
        WriteBlock(data.AsSpan(0, 512));
        WriteBlock(data.AsSpan(512));
        Assert.Equal(Drdy | Dsc, In(Status));
        Assert.Equal(data, FileBytes().AsSpan(60 * 512, 2 * 512).ToArray());

        Lba48Command(0x24, 61, 1);
        Assert.Equal(data.AsSpan(512).ToArray(), ReadBlock());

        // A high-order byte that puts the address past the disk is honoured, not dropped.
        Lba48Command(0x24, (1UL << 24) + 1, 1);
        Assert.Equal(Drdy | Dsc | Err, In(Status));
        Assert.Equal(Idnf, In(Error));
    }

    [Fact]
    public void DataPort_Takes32BitAccesses_AsTwoWords()
    {
        Attach();
        var data = Pattern(512, 3);
        Lba28Command(0x30, 1, 1);
        for (int i = 0; i < 512; i += 4) _bus.Write(DataPort, 4, BitConverter.ToUInt32(data, i));
        Assert.Equal(Drdy | Dsc, In(Status));
        Lba28Command(0x20, 1, 1);
        var read = new byte[512];
        for (int i = 0; i < 512; i += 4) BitConverter.TryWriteBytes(read.AsSpan(i), _bus.Read(DataPort, 4));
        Assert.Equal(data, read);
        Assert.Equal(data, FileBytes().AsSpan(512, 512).ToArray());
    }

    [Theory]
    [InlineData(0x20, Sectors, 1)]        // starts at the end
    [InlineData(0x20, Sectors - 1, 2)]    // runs past the end
    [InlineData(0x30, Sectors - 2, 3)]
    [InlineData(0x30, 0x0FFF_FFFF, 1)]
    public void OutOfRangeSectors_FailWithIdnf_AndTouchNothing(byte command, uint lba, byte count)
    {
        Attach();
        Lba28Command(command, lba, count);
        Assert.True(_interrupts.Level(Irq));
        Assert.Equal(Drdy | Dsc | Err, In(Status));
        Assert.Equal(Idnf, In(Error));
        Assert.Equal(0u, _bus.Read(DataPort, 2));
        _bus.Write(DataPort, 2, 0x1234);
        Assert.Equal(_original, FileBytes());
        Assert.Equal(Drdy | Dsc, AfterSuccessfulFlush());
    }

    private byte AfterSuccessfulFlush()
    {
        Out(Command, 0xE7);
        return In(Status);
    }

    [Fact]
    public void ReadOnlyImage_AbortsWrites_AndStillReads()
    {
        Attach(readOnly: true);
        Lba28Command(0x30, 0, 1);
        Assert.Equal(Drdy | Dsc | Err, In(Status));
        Assert.Equal(Abrt, In(Error));
        _bus.Write(DataPort, 2, 0xBEEF);
        Lba48Command(0x34, 0, 1);
        Assert.Equal(Abrt, In(Error));
        Assert.Equal(_original, FileBytes());

        Lba28Command(0x20, 2, 1);
        Assert.Equal(_original.AsSpan(1024, 512).ToArray(), ReadBlock());
        Assert.Equal(Drdy | Dsc, AfterSuccessfulFlush());
    }

    [Theory]
    [InlineData(0xE7)]
    [InlineData(0xEA)]
    public void FlushCache_Completes_WithAnInterrupt(byte command)
    {
        Attach();
        Lba28Command(0x30, 0, 1);
        WriteBlock(Pattern(512, 1));
        In(Status);
        Out(Command, command);
        Assert.True(_interrupts.Level(Irq));
        Assert.Equal(Drdy | Dsc, In(Status));
        Assert.Equal(Pattern(512, 1), FileBytes().AsSpan(0, 512).ToArray());
    }

    [Theory]
    [InlineData(0x00)] // NOP, which aborts by definition
    [InlineData(0xC8)] // READ DMA: there is no DMA
    [InlineData(0xA1)] // IDENTIFY PACKET DEVICE: not an ATAPI device
    [InlineData(0x91)] // INITIALIZE DEVICE PARAMETERS: CHS
    public void OtherCommands_AreAborted(byte command)
    {
        Attach();
        Out(Command, command);
        Assert.Equal(Drdy | Dsc | Err, In(Status));
        Assert.Equal(Abrt, In(Error));
    }

    [Fact]
    public void ChsAddresses_ReadThroughTheIdentifyGeometry()
    {
        // Cylinder 0, head 1, sector 1 of 16 heads and 63 sectors a track: LBA 63, the image's last sector.
        Attach();
        Out(Count, 1);
        Out(LbaLow, 1);
        Out(LbaMid, 0);
        Out(LbaHigh, 0);
        Out(Device, 0xA1);
        Out(Command, 0x20);
        Assert.Equal(_original.AsSpan(63 * 512, 512).ToArray(), ReadBlock());
    }

    [Fact]
    public void ChsSectorZero_FailsWithIdnf()
    {
        Attach();
        Out(Count, 1);
        Out(LbaLow, 0);
        Out(Device, 0xA0);
        Out(Command, 0x20);
        Assert.Equal(Drdy | Dsc | Err, In(Status));
        Assert.Equal(Idnf, In(Error));
    }

    [Theory]
    [InlineData(0x03, 0x0C, true)]   // PIO mode 4
    [InlineData(0x03, 0x00, true)]   // PIO default
    [InlineData(0x03, 0x0D, false)]  // PIO mode 5: not offered
    [InlineData(0x03, 0x42, false)]  // UDMA 2: no DMA
    [InlineData(0xAA, 0x00, true)]
    [InlineData(0x66, 0x00, true)]
    [InlineData(0x31, 0x00, false)]
    public void SetFeatures_TakesTheCommonSubcommands(byte feature, byte count, bool accepted)
    {
        Attach();
        Out(Features, feature);
        Out(Count, count);
        Out(Command, 0xEF);
        Assert.True(_interrupts.Level(Irq));
        Assert.Equal(accepted ? Drdy | Dsc : Drdy | Dsc | Err, In(Status));
        Assert.Equal(accepted ? 0 : Abrt, In(Error));
    }

    [Fact]
    public void TurningTheWriteCacheOff_ShowsInIdentify_AndAResetTurnsItBackOn()
    {
        Attach();
        Out(Features, 0x82);
        Out(Command, 0xEF);
        Assert.Equal(Drdy | Dsc, In(Status));
        Assert.Equal(0, Identify()[85] & 1 << 5);

        Lba28Command(0x30, 3, 1);
        WriteBlock(Pattern(512, 5));
        Assert.Equal(Drdy | Dsc, In(Status));
        Assert.Equal(Pattern(512, 5), FileBytes().AsSpan(3 * 512, 512).ToArray());

        Out(Control, 0x04);
        Out(Control, 0x00);
        Assert.NotEqual(0, Identify()[85] & 1 << 5);
    }

    [Fact]
    public void PioDataIn_InterruptsBeforeEachSector_AndNotAfterTheLast()
    {
        Attach();
        Lba28Command(0x20, 0, 2);
        Assert.Equal(1, _interrupts.RisingEdges(Irq));
        Assert.True(_interrupts.Level(Irq));
        Assert.Equal(Drdy | Dsc | Drq, AltStatus);
        Assert.True(_interrupts.Level(Irq)); // alternate status acknowledges nothing
        In(Status);
        Assert.False(_interrupts.Level(Irq));
        ReadBlock();
        Assert.Equal(2, _interrupts.RisingEdges(Irq));
        In(Status);
        ReadBlock();
        Assert.False(_interrupts.Level(Irq));
        Assert.Equal(2, _interrupts.RisingEdges(Irq));
        Assert.Equal(Drdy | Dsc, In(Status));
    }

    [Fact]
    public void PioDataOut_InterruptsAfterEachSector_NotBeforeTheFirst()
    {
        Attach();
        Lba28Command(0x30, 0, 2);
        Assert.Equal(0, _interrupts.RisingEdges(Irq));
        WriteBlock(Pattern(512, 1));
        Assert.Equal(1, _interrupts.RisingEdges(Irq));
        Assert.Equal(Drdy | Dsc | Drq, In(Status));
        Assert.False(_interrupts.Level(Irq));
        WriteBlock(Pattern(512, 2));
        Assert.Equal(2, _interrupts.RisingEdges(Irq));
        Assert.Equal(Drdy | Dsc, In(Status));
    }

    [Fact]
    public void WithNienSet_NoInterruptReachesTheLine_UntilItIsCleared()
    {
        Attach();
        Out(Control, 0x02);
        Lba28Command(0x20, 0, 1);
        Assert.Equal(Drdy | Dsc | Drq, AltStatus);
        Assert.False(_interrupts.Level(Irq));
        Out(Control, 0x00);
        Assert.True(_interrupts.Level(Irq)); // still pending: nIEN only held the line
        In(Status);
        Assert.False(_interrupts.Level(Irq));
    }

    [Fact]
    public void SoftReset_IsBusyWhileHeld_ThenEndsTheTransferAndRestoresTheSignature()
    {
        Attach();
        Lba28Command(0x30, 0, 4);
        _bus.Write(DataPort, 2, 0x1111);
        Out(Control, 0x04);
        Assert.Equal(Bsy, AltStatus);
        Out(Control, 0x00);
        Assert.Equal(Drdy | Dsc, AltStatus);
        Assert.Equal([1, 1, 0, 0], new[] { In(Count), In(LbaLow), In(LbaMid), In(LbaHigh) });
        Assert.Equal(0x01, In(Error));
        Assert.Equal(0xA0, In(Device));
        Assert.False(_interrupts.Level(Irq));
        WriteBlock(Pattern(512, 9)); // the transfer is over: the words go nowhere
        Assert.Equal(_original, FileBytes());

        Lba28Command(0x20, 0, 1);
        Assert.Equal(_original.AsSpan(0, 512).ToArray(), ReadBlock());
    }

    [Fact]
    public void ANewCommand_IsIgnoredWhileDataIsRequested()
    {
        Attach();
        Lba28Command(0x20, 1, 1);
        Out(Command, 0xEC);
        Assert.Equal(_original.AsSpan(512, 512).ToArray(), ReadBlock());
    }

    [Fact]
    public void AbsentDevice1_ReadsStatusAndErrorZero_IgnoresCommands_AndReleasesTheLine()
    {
        Attach();
        Lba28Command(0x20, 0, 1);
        Assert.True(_interrupts.Level(Irq));
        Out(Device, 0xB0);
        Assert.False(_interrupts.Level(Irq));
        Assert.Equal(0, In(Status));
        Assert.Equal(0, AltStatus);
        Assert.Equal(0, In(Error));
        Assert.Equal(0xB0, In(Device));
        Out(Count, 0x55);
        Out(LbaLow, 0xAA);
        Assert.Equal([0x55, 0xAA], new[] { In(Count), In(LbaLow) }); // device 0 answers for it
        Out(Command, 0xEC);
        Assert.Equal(0, In(Status));
        Assert.Equal(0u, _bus.Read(DataPort, 2));

        Out(Device, 0xA0); // back to device 0: its transfer and interrupt are still there
        Assert.True(_interrupts.Level(Irq));
        Assert.Equal(Drdy | Dsc | Drq, In(Status));
        Assert.Equal(_original.AsSpan(0, 512).ToArray(), ReadBlock());
    }

    [Fact]
    public void ByteAccessToTheDataPort_MovesAWord()
    {
        Attach();
        Lba28Command(0x20, 0, 1);
        Assert.Equal(_original[0], (byte)_bus.Read(DataPort, 1));
        Assert.Equal(_original[2], (byte)_bus.Read(DataPort, 1));
    }
}
