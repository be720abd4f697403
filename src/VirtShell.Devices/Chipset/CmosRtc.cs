using System.Diagnostics;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// The PC's CMOS real-time clock at ports 0x70 (index) and 0x71 (data), IRQ 8: an <see cref="Mc146818"/> set to the
/// host's UTC time, with NVRAM as a BIOS leaves it for a machine of this much RAM. A timer wakes the chip when an
/// enabled interrupt (periodic, update-ended, alarm) is due, so IRQ 8 rises on time; the line stays high until the
/// guest reads register C, as on the chip, so an edge-triggered 8259 sees one edge per acknowledged interrupt.
/// </summary>
/// <remarks>
/// Bit 7 of an index write is the NMI mask on a PC; nothing here raises NMI, so it is dropped from the index and
/// otherwise ignored. Port 0x70 is write-only and reads as all ones.
/// </remarks>
public sealed class CmosRtc : IPortDevice, IDeviceState, IDisposable
{
    public const int Irq = 8;

    // NVRAM bytes a BIOS leaves (the IBM AT's layout, as SeaBIOS and QEMU keep it).
    public const int EquipmentByte = 0x14, BaseMemoryKiB = 0x15, ExtendedMemoryKiB = 0x17, ExtendedMemoryKiBCopy = 0x30,
        MemoryAbove16MiB = 0x34, Checksum = 0x2E, BootOrder = 0x3D;
    /// <summary>The Bochs BIOS's boot order (first device in the low nibble, second in the high one): the hard disk only.</summary>
    private const byte BootFromHardDisk = 0x02;
    private const int ChecksummedFirst = 0x10, ChecksummedLast = 0x2D;
    /// <summary>Equipment: a math coprocessor (both CPU backends have x87), no floppy drives, display bits 00.</summary>
    private const byte Equipment = 0x02;

    private readonly object _lock = new();
    private readonly Mc146818 _chip;
    private readonly InterruptLine _irq;
    private readonly DeadlineTimer _timer;
    private int _index;

    public CmosRtc(IInterruptController irq, ulong ramBytes)
        : this(irq, ramBytes, DateTime.UtcNow, Stopwatch.GetTimestamp())
    {
    }

    /// <summary>A clock that shows <paramref name="utcAtReference"/> at the Stopwatch timestamp <paramref name="reference"/>.</summary>
    public CmosRtc(IInterruptController irq, ulong ramBytes, DateTime utcAtReference, long reference)
    {
        _irq = irq.Connect(Irq);
        _chip = new Mc146818(utcAtReference, reference);
        SetMemorySize(ramBytes);
        _timer = new DeadlineTimer(_lock, "CMOS RTC", (_, now) => Sync(now));
    }

    public void Register(IoPortBus ports)
    {
        ports.Register(PcChipset.Rtc, this);
    }

    private void SetMemorySize(ulong ramBytes)
    {
        var nvram = new byte[Mc146818.Size];
        ulong kib = ramBytes / 1024;
        SetWord(nvram, BaseMemoryKiB, Math.Min(kib, 640));
        ulong extended = Math.Min(kib > 1024 ? kib - 1024 : 0, 0xFFFF);
        SetWord(nvram, ExtendedMemoryKiB, extended);
        SetWord(nvram, ExtendedMemoryKiBCopy, extended);
        SetWord(nvram, MemoryAbove16MiB, Math.Min(ramBytes > 16UL << 20 ? (ramBytes - (16UL << 20)) >> 16 : 0, 0xFFFF));
        nvram[EquipmentByte] = Equipment;
        nvram[BootOrder] = BootFromHardDisk;
        // The AT checksum over 0x10-0x2D, high byte first (the one NVRAM word that is big-endian).
        int sum = 0;
        for (int i = ChecksummedFirst; i <= ChecksummedLast; i++) sum += nvram[i];
        nvram[Checksum] = (byte)(sum >> 8);
        nvram[Checksum + 1] = (byte)sum;
        for (int i = Mc146818.RegisterD + 1; i < nvram.Length; i++)
            if (i != Mc146818.Century) _chip.SetNvram(i, nvram[i]);
    }

    private static void SetWord(byte[] nvram, int index, ulong value)
    {
        nvram[index] = (byte)value;
        nvram[index + 1] = (byte)(value >> 8);
    }

    public uint ReadPort(ushort port, int size) =>
        ByteWideAccess.Read(port, size, PcChipset.Rtc, offset =>
        {
            if (offset == 0) return 0xFF;
            lock (_lock)
            {
                long now = Stopwatch.GetTimestamp();
                byte value = _chip.Read(_index, now);
                _timer.Schedule(Sync(now));
                return value;
            }
        });

    public void WritePort(ushort port, int size, uint value) =>
        ByteWideAccess.Write(port, size, value, PcChipset.Rtc, (offset, b) =>
        {
            lock (_lock)
            {
                if (offset == 0)
                {
                    _index = b & 0x7F;
                    return;
                }
                long now = Stopwatch.GetTimestamp();
                _chip.Write(_index, b, now);
                _timer.Schedule(Sync(now));
            }
        });

    /// <summary>Brings the chip to <paramref name="now"/>, puts its IRQ pin on the line, and says when to look again.</summary>
    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            writer.WriteInt32(_index);
            _chip.SaveState(writer);
            writer.WriteBool(_irq.Asserted);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_lock)
        {
            _index = reader.ReadInt32(0, Mc146818.Size - 1, "the CMOS index");
            _chip.RestoreState(reader);
            _irq.RestoreLevel(reader.ReadBool());
            _timer.Schedule(Sync(Stopwatch.GetTimestamp()));
        }
    }

    private long Sync(long now)
    {
        _chip.Advance(now);
        bool line = _chip.InterruptLine;
        if (line != _irq.Asserted) _irq.Set(line);
        return _chip.NextEvent(now);
    }

    public void Dispose() => _timer.Dispose();
}
