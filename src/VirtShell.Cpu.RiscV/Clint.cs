using System.Diagnostics;
using VirtShell.Engine.Buses;
using VirtShell.Engine.State;

namespace VirtShell.Cpu.RiscV;

/// <summary>
/// The core-local interruptor of one hart, SiFive's layout as on QEMU's virt board: msip at 0, mtimecmp at 0x4000,
/// mtime at 0xBFF8. mtime counts at <see cref="Frequency"/> from the host's monotonic clock, so guests calibrate
/// against real time; the machine timer interrupt is pending while mtime ≥ mtimecmp. A saved state carries mtime's
/// value, and a restore goes on counting from it (the guest sees no time pass while it was saved, as on QEMU).
/// </summary>
public sealed class Clint : IMmioDevice, IDeviceState
{
    /// <summary>QEMU virt's timebase-frequency, which the device tree tells the guest.</summary>
    public const ulong Frequency = 10_000_000;
    /// <summary>The window the platform maps.</summary>
    public const ulong Size = 0x10000;
    private const ulong MsipOffset = 0, TimeCompareOffset = 0x4000, TimeOffset = 0xBFF8;

    private readonly RiscvCpu _hart;
    private readonly long _epoch = Stopwatch.GetTimestamp();
    private long _timeAdjust;
    private volatile bool _msip;
    private ulong _timeCompare = ulong.MaxValue;

    internal Clint(RiscvCpu hart) => _hart = hart;

    /// <summary>Where the platform mapped the window (the register offsets are from here).</summary>
    public ulong Base { get; set; }

    /// <summary>mtime.</summary>
    public ulong Time => (ulong)((double)(Stopwatch.GetTimestamp() - _epoch) * Frequency / Stopwatch.Frequency) + (ulong)_timeAdjust;

    /// <summary>mtimecmp.</summary>
    public ulong TimeCompare => Volatile.Read(ref _timeCompare);

    /// <summary>MSIP and MTIP as they stand, in mip's bit positions.</summary>
    internal ulong PendingBits => (_msip ? Interrupts.MachineSoftware : 0) | (Time >= TimeCompare ? Interrupts.MachineTimer : 0);

    public ulong ReadMmio(ulong address, int size)
    {
        ulong offset = address - Base;
        return offset switch
        {
            MsipOffset => _msip ? 1UL : 0,
            >= TimeCompareOffset and < TimeCompareOffset + 8 => Part(TimeCompare, offset - TimeCompareOffset, size),
            >= TimeOffset and < TimeOffset + 8 => Part(Time, offset - TimeOffset, size),
            _ => 0,
        };
    }

    public void WriteMmio(ulong address, int size, ulong value)
    {
        ulong offset = address - Base;
        switch (offset)
        {
            case MsipOffset:
                _msip = (value & 1) != 0;
                break;
            case >= TimeCompareOffset and < TimeCompareOffset + 8:
                Volatile.Write(ref _timeCompare, Merge(TimeCompare, offset - TimeCompareOffset, size, value));
                break;
            case >= TimeOffset and < TimeOffset + 8:
                ulong wanted = Merge(Time, offset - TimeOffset, size, value);
                _timeAdjust += (long)(wanted - Time);
                break;
            default:
                return;
        }
        _hart.InterruptsChanged();
    }

    public void SaveState(StateWriter writer)
    {
        writer.WriteBool(_msip);
        writer.WriteUInt64(TimeCompare);
        writer.WriteUInt64(Time);
    }

    public void RestoreState(StateReader reader)
    {
        _msip = reader.ReadBool();
        Volatile.Write(ref _timeCompare, reader.ReadUInt64());
        ulong time = reader.ReadUInt64();
        _timeAdjust += (long)(time - Time);
        _hart.InterruptsChanged();
    }

    private static ulong Part(ulong register, ulong offset, int size) =>
        size == 8 ? register : (register >> (int)(8 * offset)) & ((1UL << (8 * size)) - 1);

    private static ulong Merge(ulong register, ulong offset, int size, ulong value)
    {
        if (size == 8) return value;
        int shift = (int)(8 * offset);
        ulong mask = ((1UL << (8 * size)) - 1) << shift;
        return (register & ~mask) | ((value << shift) & mask);
    }
}
