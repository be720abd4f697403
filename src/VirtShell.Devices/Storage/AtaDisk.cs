using System.Diagnostics;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Storage;

/// <summary>
/// A fixed disk as device 0 (master) of the primary ATA channel, as QEMU's <c>-drive if=ide</c> and Bochs's ata0-master
/// give a guest: the command block at 0x1F0-0x1F7, device control and alternate status at 0x3F6, INTRQ on IRQ 14.
/// PIO only; 28- and 48-bit LBA, and CHS on the 16-head, 63-sector geometry IDENTIFY reports; the commands are IDENTIFY DEVICE, READ/WRITE SECTORS (EXT), FLUSH
/// CACHE (EXT), which fsyncs the image before it completes, and SET FEATURES; any other is aborted.
/// </summary>
/// <remarks>
/// <para>
/// Commands take no time: the data of a read is there when the command is written, and a written sector is in the
/// image file (pwrite returned) when its last word is, so BSY is only ever seen while the guest holds SRST. The write
/// cache IDENTIFY reports is the host's page cache; FLUSH CACHE, or turning the cache off, is what puts the data on the
/// host's disk.
/// </para>
/// <para>
/// There is no device 1. While the guest selects it (DEV set), status, alternate status and error read 0 and commands
/// are ignored, as QEMU does for a channel with a master only; the other registers read what device 0 latched, since a
/// device 0 answers for an absent device 1. Both probes then see no device: Linux takes an ATA signature whose status
/// reads 0 as none (ata_sff_dev_classify), and SeaBIOS skips a device whose status reads 0 (ata_detect).
/// </para>
/// <para>
/// Only a vCPU thread calls in; the lock is for machines with more than one.
/// </para>
/// </remarks>
public sealed class AtaDisk : IPortDevice, IDeviceState, IDiskImageDevice, IDisposable
{
    public const ushort CommandBlock = 0x1F0, ControlBlock = 0x3F6;
    public const int CommandBlockPorts = 8, ControlBlockPorts = 1;
    public const int Irq = 14;

    /// <summary>The port ranges the disk answers, the command block first.</summary>
    public static IReadOnlyList<(ushort First, int Count)> Ports { get; } = [(CommandBlock, CommandBlockPorts), (ControlBlock, ControlBlockPorts)];

    public const int SerialLength = 20;
    private const string Model = "VirtShell ATA disk", FirmwareRevision = "1.0";
    private const ulong MaxLba28Sectors = 0x0FFF_FFFF, MaxLba48Sectors = 1UL << 48;
    private const ushort Heads = 16, SectorsPerTrack = 63;
    private const byte Ready = Ata.StatusReady | Ata.StatusSeekComplete;

    private enum Transfer { None, In, Out }

    private readonly object _lock = new();
    private readonly DiskImage _image;
    private readonly string _serial;
    private readonly InterruptLine _irq;
    private readonly Action<string> _log;
    private readonly byte[] _sector = new byte[DiskImage.SectorSize];

    // Sector count and the LBA registers keep two bytes each: the last one written (read normally; what 28-bit
    // commands use) in the low half, the one before it (read with HOB; the high half of a 48-bit count or address) above.
    private ushort _sectorCount, _lbaLow, _lbaMid, _lbaHigh;
    private byte _features, _device, _control, _status, _error;
    private bool _interruptPending;
    private bool _writeCache = true, _revertOnReset = true;

    private Transfer _transfer;
    private int _position;      // the next byte of _sector the data port moves
    private ulong _lba;         // the sector in _sector
    private uint _remaining;    // sectors the command still moves, the one in _sector included

    /// <param name="serial">The serial number IDENTIFY reports: printable ASCII, at most <see cref="SerialLength"/> characters.</param>
    /// <param name="log">Where host I/O failures are told (the guest sees only an ATA error).</param>
    public AtaDisk(DiskImage image, string serial, IInterruptController interrupts, Action<string> log)
    {
        if (serial.Length > SerialLength || serial.Any(c => c is < ' ' or > '~'))
            throw new ArgumentException($"an ATA serial number is at most {SerialLength} printable ASCII characters, not '{serial}'", nameof(serial));
        _image = image;
        _serial = serial;
        _irq = interrupts.Connect(Irq);
        _log = log;
        Reset();
    }

    public uint ReadPort(ushort port, int size)
    {
        lock (_lock)
        {
            if (port == CommandBlock) return ReadData(size);
            if (port == ControlBlock) return ByteWideAccess.Read(port, size, ControlBlock, ControlBlockPorts, _ => Status);
            return ByteWideAccess.Read(port, size, CommandBlock, CommandBlockPorts, ReadRegister);
        }
    }

    public void WritePort(ushort port, int size, uint value)
    {
        lock (_lock)
        {
            if (port == CommandBlock) WriteData(size, value);
            else if (port == ControlBlock) ByteWideAccess.Write(port, size, value, ControlBlock, ControlBlockPorts, (_, b) => WriteControl(b));
            else ByteWideAccess.Write(port, size, value, CommandBlock, CommandBlockPorts, WriteRegister);
        }
    }

    public void Dispose() => _image.Dispose();

    public string ImagePath => _image.Path;

    public bool ReadOnly => _image.ReadOnly;

    /// <summary>
    /// The task file, the transfer under way and the sector buffer a PIO transfer is moving; the image's contents are
    /// the disk's, captured beside the state (every written sector is in the file before its command completes).
    /// </summary>
    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            foreach (ushort pair in (ReadOnlySpan<ushort>)[_sectorCount, _lbaLow, _lbaMid, _lbaHigh]) writer.WriteUInt16(pair);
            foreach (byte b in (ReadOnlySpan<byte>)[_features, _device, _control, _status, _error]) writer.WriteByte(b);
            foreach (bool f in (ReadOnlySpan<bool>)[_interruptPending, _writeCache, _revertOnReset]) writer.WriteBool(f);
            writer.WriteInt32((int)_transfer);
            writer.WriteInt32(_position);
            writer.WriteUInt64(_lba);
            writer.WriteUInt32(_remaining);
            writer.WriteBytes(_sector);
            writer.WriteBool(_irq.Asserted);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_lock)
        {
            (_sectorCount, _lbaLow, _lbaMid, _lbaHigh) = (reader.ReadUInt16(), reader.ReadUInt16(), reader.ReadUInt16(), reader.ReadUInt16());
            (_features, _device, _control, _status, _error) = (reader.ReadByte(), reader.ReadByte(), reader.ReadByte(), reader.ReadByte(), reader.ReadByte());
            (_interruptPending, _writeCache, _revertOnReset) = (reader.ReadBool(), reader.ReadBool(), reader.ReadBool());
            _transfer = (Transfer)reader.ReadInt32((int)Transfer.None, (int)Transfer.Out, "the ATA transfer direction");
            _position = reader.ReadInt32(0, _sector.Length - 2, "the ATA sector buffer position");
            reader.Check(_position % 2 == 0, "the ATA sector buffer position is odd");
            _lba = reader.ReadUInt64();
            _remaining = reader.ReadUInt32();
            reader.Check(_transfer == Transfer.None || _lba + _remaining <= _image.Sectors + 1,
                $"an ATA transfer runs past the image's {_image.Sectors} sectors: the image is not the one saved with the state");
            var sector = reader.ReadBytes(_sector.Length, "the ATA sector buffer");
            reader.Check(sector.Length == _sector.Length, "the ATA sector buffer has the wrong size");
            sector.CopyTo(_sector);
            _irq.RestoreLevel(reader.ReadBool());
        }
    }

    private bool Device1Selected => (_device & Ata.DeviceSelect) != 0;

    /// <summary>The status register as the alternate status port shows it: reading it acknowledges nothing.</summary>
    private byte Status => Device1Selected ? (byte)0 : _status;

    // The data port is 16 bits wide. A 32-bit access moves two words, as the PCI IDE controllers that allow it do; an
    // 8-bit one still moves a whole word (the drive drives all 16 data lines) of which the bus keeps the low byte.
    private uint ReadData(int size)
    {
        uint value = ReadWord();
        if (size == 4) value |= (uint)ReadWord() << 16;
        return size == 1 ? value & 0xFF : value;
    }

    private void WriteData(int size, uint value)
    {
        WriteWord((ushort)value);
        if (size == 4) WriteWord((ushort)(value >> 16));
    }

    private ushort ReadWord()
    {
        if (_transfer != Transfer.In || Device1Selected) return 0;
        var word = (ushort)(_sector[_position] | _sector[_position + 1] << 8);
        _position += 2;
        if (_position == _sector.Length) SectorRead();
        return word;
    }

    private void WriteWord(ushort word)
    {
        if (_transfer != Transfer.Out || Device1Selected) return;
        _sector[_position] = (byte)word;
        _sector[_position + 1] = (byte)(word >> 8);
        _position += 2;
        if (_position == _sector.Length) SectorWritten();
    }

    private byte ReadRegister(int offset)
    {
        bool hob = (_control & Ata.ControlHighOrderByte) != 0;
        switch (offset)
        {
            case Ata.ErrorOrFeatures: return Device1Selected ? (byte)0 : _error;
            case Ata.SectorCount: return Half(_sectorCount, hob);
            case Ata.LbaLow: return Half(_lbaLow, hob);
            case Ata.LbaMid: return Half(_lbaMid, hob);
            case Ata.LbaHigh: return Half(_lbaHigh, hob);
            case Ata.Device: return _device;
            case Ata.StatusOrCommand:
                if (Device1Selected) return 0;
                _interruptPending = false; // reading Status, unlike Alternate Status, acknowledges the interrupt
                UpdateInterrupt();
                return _status;
            default: throw new UnreachableException("the data register is read through ReadData");
        }
    }

    private void WriteRegister(int offset, byte value)
    {
        _control &= unchecked((byte)~Ata.ControlHighOrderByte); // a write to any command block register clears HOB
        switch (offset)
        {
            case Ata.ErrorOrFeatures: _features = value; break;
            case Ata.SectorCount: _sectorCount = Push(_sectorCount, value); break;
            case Ata.LbaLow: _lbaLow = Push(_lbaLow, value); break;
            case Ata.LbaMid: _lbaMid = Push(_lbaMid, value); break;
            case Ata.LbaHigh: _lbaHigh = Push(_lbaHigh, value); break;
            case Ata.Device:
                _device = (byte)(value | Ata.DeviceObsolete);
                UpdateInterrupt(); // INTRQ belongs to the selected device
                break;
            case Ata.StatusOrCommand: Execute(value); break;
            default: throw new UnreachableException("the data register is written through WriteData");
        }
    }

    private static byte Half(ushort pair, bool high) => (byte)(high ? pair >> 8 : pair);
    private static ushort Push(ushort pair, byte value) => (ushort)(pair << 8 | value);

    /// <summary>SRST holds the device in reset (BSY) while set; clearing it completes the reset.</summary>
    private void WriteControl(byte value)
    {
        bool wasInReset = (_control & Ata.ControlSoftReset) != 0, inReset = (value & Ata.ControlSoftReset) != 0;
        _control = value;
        if (inReset && !wasInReset)
        {
            _transfer = Transfer.None;
            _interruptPending = false;
            _status = Ata.StatusBusy;
        }
        else if (wasInReset && !inReset)
        {
            Reset();
        }
        UpdateInterrupt();
    }

    /// <summary>
    /// The state after power-on or a reset: the ATA signature in the task file (count 1, LBA 1, 0, 0 says "ATA, not
    /// ATAPI"), diagnostics passed, device 0 selected and ready. No interrupt: hosts poll BSY after a reset.
    /// </summary>
    private void Reset()
    {
        _sectorCount = 1;
        _lbaLow = 1;
        _lbaMid = _lbaHigh = 0;
        _features = 0;
        _device = Ata.DeviceObsolete;
        _error = Ata.DiagnosticsPassed;
        _status = Ready;
        _transfer = Transfer.None;
        _interruptPending = false;
        if (_revertOnReset) _writeCache = true;
    }

    private void Execute(byte command)
    {
        // Device 1 is not there to take it; device 0 takes no command while busy or moving data (only SRST ends that).
        if (Device1Selected || (_status & (Ata.StatusBusy | Ata.StatusDataRequest)) != 0) return;
        _interruptPending = false;
        _error = 0;
        switch (command)
        {
            case Ata.CommandIdentifyDevice: Identify(); break;
            case Ata.CommandReadSectors: StartRead(lba48: false); break;
            case Ata.CommandReadSectorsExt: StartRead(lba48: true); break;
            case Ata.CommandWriteSectors: StartWrite(lba48: false); break;
            case Ata.CommandWriteSectorsExt: StartWrite(lba48: true); break;
            case Ata.CommandFlushCache or Ata.CommandFlushCacheExt:
                if (Flush()) Complete(interrupt: true);
                break;
            case Ata.CommandSetFeatures: SetFeatures(); break;
            default: Fail(Ata.ErrorAborted); break;
        }
        UpdateInterrupt();
    }

    /// <summary>The sectors a read or write command names, or null (with the error set) if it cannot run.</summary>
    private (ulong Lba, uint Count)? Extent(bool lba48)
    {
        ulong lba;
        uint count = lba48
            ? (_sectorCount == 0 ? 65536u : _sectorCount)
            : (Half(_sectorCount, false) is var n && n != 0 ? n : 256u);
        if (lba48)
            lba = (ulong)Half(_lbaHigh, true) << 40 | (ulong)Half(_lbaMid, true) << 32 | (ulong)Half(_lbaLow, true) << 24
                | (ulong)Half(_lbaHigh, false) << 16 | (ulong)Half(_lbaMid, false) << 8 | Half(_lbaLow, false);
        else if ((_device & Ata.DeviceLba) != 0)
            lba = (ulong)(_device & 0x0F) << 24 | (ulong)Half(_lbaHigh, false) << 16 | (ulong)Half(_lbaMid, false) << 8 | Half(_lbaLow, false);
        else
        {
            // A CHS address, which the Bochs BIOS's INT 13h AH=02h sends: on IDENTIFY's geometry, sectors counted from 1.
            uint cylinder = (uint)Half(_lbaHigh, false) << 8 | Half(_lbaMid, false), head = (uint)_device & 0x0F, sector = Half(_lbaLow, false);
            lba = sector is 0 or > SectorsPerTrack ? ulong.MaxValue : ((ulong)cylinder * Heads + head) * SectorsPerTrack + sector - 1;
        }
        if (lba >= _image.Sectors || count > _image.Sectors - lba)
        {
            Fail(Ata.ErrorIdNotFound); // ATA allows IDNF or ABRT here; IDNF says which
            return null;
        }
        return (lba, count);
    }

    private void StartRead(bool lba48)
    {
        if (Extent(lba48) is not var (lba, count)) return;
        _lba = lba;
        _remaining = count;
        LoadSector();
    }

    private void StartWrite(bool lba48)
    {
        if (_image.ReadOnly)
        {
            Fail(Ata.ErrorAborted);
            return;
        }
        if (Extent(lba48) is not var (lba, count)) return;
        _lba = lba;
        _remaining = count;
        Expect(Transfer.Out); // PIO data-out: no interrupt before the first sector, one after each
    }

    /// <summary>Reads sector <see cref="_lba"/> into the buffer and offers it: DRQ, and the interrupt PIO data-in gives each block.</summary>
    private void LoadSector()
    {
        try
        {
            int got = RandomAccess.Read(_image.Handle, _sector, (long)_lba * DiskImage.SectorSize);
            _sector.AsSpan(got).Clear(); // the file shrank under the machine: what is gone reads as zeros
        }
        catch (IOException e)
        {
            HostFailure("read", e, Ata.ErrorUncorrectable);
            return;
        }
        Expect(Transfer.In);
        RaiseInterrupt();
    }

    private void SectorRead()
    {
        if (--_remaining == 0)
        {
            Complete(interrupt: false); // PIO data-in interrupts before each block, not after the last
            return;
        }
        _lba++;
        LoadSector();
    }

    private void SectorWritten()
    {
        try
        {
            RandomAccess.Write(_image.Handle, _sector, (long)_lba * DiskImage.SectorSize);
        }
        catch (IOException e)
        {
            HostFailure("write", e, Ata.ErrorAborted);
            return;
        }
        if (--_remaining > 0)
        {
            _lba++;
            Expect(Transfer.Out);
            RaiseInterrupt();
            return;
        }
        // With the write cache off, the command completes only once its data is on the host's disk.
        if (_writeCache || Flush()) Complete(interrupt: true);
    }

    private void Expect(Transfer transfer)
    {
        _transfer = transfer;
        _position = 0;
        _status = Ready | Ata.StatusDataRequest;
    }

    /// <summary>Puts what has been written on the host's disk; false (with the error set) if the host failed.</summary>
    private bool Flush()
    {
        if (_image.ReadOnly) return true;
        try
        {
            RandomAccess.FlushToDisk(_image.Handle);
            return true;
        }
        catch (IOException e)
        {
            HostFailure("flush", e, Ata.ErrorAborted);
            return false;
        }
    }

    private void SetFeatures()
    {
        switch (_features)
        {
            case Ata.FeatureEnableWriteCache:
                _writeCache = true;
                break;
            case Ata.FeatureDisableWriteCache:
                if (!Flush()) return; // what the cache held must be on the disk once it is off
                _writeCache = false;
                break;
            case Ata.FeatureSetTransferMode when IsPioMode(Half(_sectorCount, false)):
            case Ata.FeatureEnableReadLookAhead or Ata.FeatureDisableReadLookAhead:
                break; // nothing to change: transfers take no time, and reads do not look ahead
            case Ata.FeatureDisableRevertToDefaults:
                _revertOnReset = false;
                break;
            case Ata.FeatureEnableRevertToDefaults:
                _revertOnReset = true;
                break;
            default:
                Fail(Ata.ErrorAborted); // includes DMA transfer modes: IDENTIFY offers none
                return;
        }
        Complete(interrupt: true);
    }

    private static bool IsPioMode(byte mode) =>
        mode is Ata.TransferPioDefault or Ata.TransferPioDefaultNoIordy
        || (mode & ~7) == Ata.TransferPioMode && (mode & 7) <= Ata.HighestPioMode;

    private void Complete(bool interrupt)
    {
        _transfer = Transfer.None;
        _status = Ready;
        if (interrupt) RaiseInterrupt();
    }

    private void Fail(byte error, bool deviceFault = false)
    {
        _transfer = Transfer.None;
        _error = error;
        _status = (byte)(Ready | Ata.StatusError | (deviceFault ? Ata.StatusDeviceFault : 0));
        RaiseInterrupt();
    }

    private void HostFailure(string operation, IOException e, byte error)
    {
        _log($"ataDisk: {operation} of '{_image.Path}' at sector {_lba} failed: {e.Message}");
        Fail(error, deviceFault: true);
    }

    private void RaiseInterrupt()
    {
        _interruptPending = true;
        UpdateInterrupt();
    }

    /// <summary>INTRQ is driven by the selected device only, and only while nIEN is clear.</summary>
    private void UpdateInterrupt()
    {
        _irq.Set(_interruptPending && !Device1Selected && (_control & Ata.ControlInterruptDisable) == 0);
    }

    private void Identify()
    {
        Span<ushort> id = stackalloc ushort[256];
        id.Clear();
        ulong sectors = _image.Sectors;
        id[0] = 0x0040; // a fixed, not removable, ATA device
        // The usual 16-head, 63-sector geometry, which CHS addresses use; the current geometry (words 54-58) is the same.
        id[1] = id[54] = (ushort)Math.Min(16383UL, sectors / (Heads * SectorsPerTrack));
        id[3] = id[55] = Heads;
        // The retired words 4 and 5, unformatted bytes per track and per sector, as QEMU and Bochs still fill them: the
        // Bochs BIOS takes its PIO block size from word 5.
        id[4] = DiskImage.SectorSize * SectorsPerTrack;
        id[5] = DiskImage.SectorSize;
        id[6] = id[56] = SectorsPerTrack;
        uint chsSectors = (uint)id[1] * Heads * SectorsPerTrack;
        id[57] = (ushort)chsSectors;
        id[58] = (ushort)(chsSectors >> 16);
        PutString(id[10..20], _serial);
        PutString(id[23..27], FirmwareRevision);
        PutString(id[27..47], Model);
        id[47] = 0x8000;      // READ/WRITE MULTIPLE: not supported (no sectors per block)
        id[49] = 0x0A00;      // LBA (bit 9) and IORDY (bit 11); no DMA
        id[50] = 0x4000;
        id[51] = 0x0200;      // PIO mode 2 timing, for hosts that read only this old word
        id[53] = 0x0003;      // words 54-58 and 64-70 are valid
        uint lba28 = (uint)Math.Min(sectors, MaxLba28Sectors);
        id[60] = (ushort)lba28;
        id[61] = (ushort)(lba28 >> 16);
        id[64] = 0x0003;      // PIO modes 3 and 4
        id[67] = id[68] = 120; // PIO mode 4 cycle time (ns), without and with IORDY
        id[80] = 0x0070;      // ATA/ATAPI-4 to -6: -6 brought 48-bit addresses
        id[82] = 0x0020;      // write cache
        id[83] = 0x7400;      // word valid (bit 14), FLUSH CACHE EXT (13), FLUSH CACHE (12), 48-bit addresses (10)
        id[84] = 0x4000;
        id[85] = (ushort)(_writeCache ? 0x0020 : 0);
        id[86] = 0x3400;      // the same three, enabled
        id[87] = 0x4000;
        ulong lba48 = Math.Min(sectors, MaxLba48Sectors);
        for (int i = 0; i < 4; i++) id[100 + i] = (ushort)(lba48 >> (16 * i));
        for (int i = 0; i < 255; i++)
        {
            _sector[2 * i] = (byte)id[i];
            _sector[2 * i + 1] = (byte)(id[i] >> 8);
        }
        // Word 255, the integrity word: signature A5h and a checksum that makes all 512 bytes add up to 0.
        _sector[510] = 0xA5;
        byte sum = 0;
        for (int i = 0; i < 511; i++) sum += _sector[i];
        _sector[511] = (byte)-sum;
        _remaining = 1;
        Expect(Transfer.In);
        RaiseInterrupt();
    }

    /// <summary>ATA strings: space-padded ASCII, two characters a word, the first in the high byte.</summary>
    private static void PutString(Span<ushort> words, string text)
    {
        for (int i = 0; i < words.Length; i++)
        {
            char first = 2 * i < text.Length ? text[2 * i] : ' ', second = 2 * i + 1 < text.Length ? text[2 * i + 1] : ' ';
            words[i] = (ushort)(first << 8 | second);
        }
    }
}
