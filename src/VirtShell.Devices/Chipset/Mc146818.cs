using System.Diagnostics;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// The register file of a Motorola MC146818 real-time clock, the PC's "CMOS": the time and alarm registers,
/// registers A-D, and NVRAM up to index 0x7F. No ports, threads or interrupt wiring here (that is
/// <see cref="CmosRtc"/>): time comes in as <see cref="Stopwatch"/> timestamps, and the chip says what its IRQ pin
/// does and when it next needs to be asked. Not thread-safe.
/// </summary>
/// <remarks>
/// The clock is the UTC time it was given at a reference timestamp plus the time elapsed since, as the guest last
/// set it; it runs while SET is clear and the divider (register A bits 6-4) is 000-010. Updates are instantaneous at
/// each second boundary, with UIP high for the 244 µs before it, so a guest that waits for UIP to fall reads a time
/// that just changed. Update-ended (UF) and periodic (PF) flags are worked out when the chip is asked; the alarm
/// (AF) is compared at the latest update only, which is every update while AIE or UIE asks the wiring to wake the
/// chip each second.
/// </remarks>
public sealed class Mc146818
{
    public const int Size = 128;
    public const int Seconds = 0x00, SecondsAlarm = 0x01, Minutes = 0x02, MinutesAlarm = 0x03, Hours = 0x04,
        HoursAlarm = 0x05, DayOfWeek = 0x06, DayOfMonth = 0x07, Month = 0x08, Year = 0x09,
        RegisterA = 0x0A, RegisterB = 0x0B, RegisterC = 0x0C, RegisterD = 0x0D, Century = 0x32;

    public const byte UpdateInProgress = 0x80, DividerMask = 0x70, DividerNormal = 0x20, DividerReset = 0x60, RateMask = 0x0F;
    public const byte Set = 0x80, PeriodicEnable = 0x40, AlarmEnable = 0x20, UpdateEnable = 0x10, Binary = 0x04, Hours24 = 0x02;
    public const byte InterruptFlag = 0x80, PeriodicFlag = 0x40, AlarmFlag = 0x20, UpdateFlag = 0x10;
    public const byte ValidRam = 0x80;
    /// <summary>An alarm byte of 0xC0-0xFF matches any value.</summary>
    private const byte AlarmDontCare = 0xC0;

    public const long Never = DeadlineTimer.Never;
    private const long TicksPerSecond = TimeSpan.TicksPerSecond;
    private static readonly long UpdateInProgressTicks = 244 * TimeSpan.TicksPerMillisecond / 1000;

    private readonly byte[] _ram = new byte[Size];
    // While the clock runs, the time registers are computed from these; while it is stopped, _ram holds them.
    private long _clockStart;          // timestamp at which the clock read _clockAtStart
    private long _clockAtStart;        // DateTime ticks (UTC), fractions of a second included
    private long _dividerStart;        // timestamp the periodic rate counts from
    private long _lastUpdate;          // the whole second (DateTime ticks / TicksPerSecond) of the last update seen
    private long _lastPeriod;          // the periodic tick last seen

    /// <param name="utcAtReference">The time the clock shows at <paramref name="reference"/>.</param>
    /// <param name="reference">A <see cref="Stopwatch"/> timestamp.</param>
    public Mc146818(DateTime utcAtReference, long reference)
    {
        _ram[RegisterA] = DividerNormal | 0x06; // 32.768 kHz time base, 1024 Hz periodic rate: what a BIOS leaves
        _ram[RegisterB] = Hours24;              // BCD, 24-hour
        _clockStart = _dividerStart = reference;
        _clockAtStart = utcAtReference.Ticks;
        _lastUpdate = _clockAtStart / TicksPerSecond;
    }

    /// <summary>The IRQ pin: high while register C's IRQF is set.</summary>
    /// <summary>RAM and registers, and the clock as where it stood at the save: it goes on from there, not from the host's time.</summary>
    public void SaveState(StateWriter w)
    {
        w.WriteBytes(_ram);
        w.WriteTimestamp(_clockStart);
        w.WriteInt64(_clockAtStart);
        w.WriteTimestamp(_dividerStart);
        w.WriteInt64(_lastUpdate);
        w.WriteInt64(_lastPeriod);
    }

    public void RestoreState(StateReader r)
    {
        var ram = r.ReadBytes(Size, "the CMOS RAM");
        r.Check(ram.Length == Size, $"the CMOS RAM has {ram.Length} bytes, not {Size}");
        _clockStart = r.ReadTimestamp();
        _clockAtStart = r.ReadInt64();
        r.Check(_clockAtStart >= DateTime.MinValue.Ticks && _clockAtStart <= DateTime.MaxValue.Ticks, "the RTC's time is out of range");
        _dividerStart = r.ReadTimestamp();
        _lastUpdate = r.ReadInt64();
        _lastPeriod = r.ReadInt64();
        ram.CopyTo(_ram);
    }

    public bool InterruptLine => (_ram[RegisterC] & InterruptFlag) != 0;

    private bool DividerRuns => (_ram[RegisterA] & DividerMask) <= DividerNormal;
    private bool ClockRuns => DividerRuns && (_ram[RegisterB] & Set) == 0;
    private bool BinaryMode => (_ram[RegisterB] & Binary) != 0;

    /// <summary>Sets an NVRAM byte as firmware would have; indices below 0x0E are the clock's, not NVRAM.</summary>
    public void SetNvram(int index, byte value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(index, RegisterD + 1);
        _ram[index] = value;
    }

    public byte Read(int index, long now)
    {
        index &= Size - 1;
        Advance(now);
        switch (index)
        {
            case RegisterA:
                return (byte)(_ram[RegisterA] | (ClockRuns && InUpdateWindow(now) ? UpdateInProgress : 0));
            case RegisterC:
                byte flags = _ram[RegisterC];
                _ram[RegisterC] = 0;
                return flags;
            case RegisterD:
                return ValidRam;
            case Seconds or Minutes or Hours or DayOfWeek or DayOfMonth or Month or Year or Century when ClockRuns:
                return TimeRegister(index, new DateTime(ClockTicks(now)));
            default:
                return _ram[index];
        }
    }

    public void Write(int index, byte value, long now)
    {
        index &= Size - 1;
        Advance(now);
        switch (index)
        {
            case RegisterA:
                bool dividerRan = DividerRuns;
                StopOrStartClock(now, () => _ram[RegisterA] = (byte)(value & ~UpdateInProgress));
                if (!dividerRan && DividerRuns) _dividerStart = now;
                _lastPeriod = PeriodIndex(now);
                break;
            case RegisterB:
                // Setting SET ends any update interrupt (datasheet: UIE is cleared).
                StopOrStartClock(now, () => _ram[RegisterB] = (value & Set) != 0 ? (byte)(value & ~UpdateEnable) : value);
                break;
            case RegisterC or RegisterD:
                break; // read-only
            case Seconds or Minutes or Hours or DayOfWeek or DayOfMonth or Month or Year or Century when ClockRuns:
                // The guest sets one field of a running clock: the others keep their values, the second its fraction.
                long fraction = ClockTicks(now) % TicksPerSecond;
                StoreTime(ClockTicks(now));
                _ram[index] = value;
                StartClock(ParseTime() + fraction, now);
                break;
            default:
                _ram[index] = value;
                break;
        }
        UpdateInterruptFlag();
    }

    /// <summary>
    /// When the chip must next be asked (<see cref="Read"/>/<see cref="Advance"/>) so that its IRQ pin rises on time,
    /// or <see cref="Never"/>: the next periodic tick or update that an enabled interrupt waits for. Nothing while IRQF
    /// is already set, since the pin cannot rise again before register C is read.
    /// </summary>
    public long NextEvent(long now)
    {
        if (InterruptLine) return Never;
        long next = Never;
        byte b = _ram[RegisterB];
        if ((b & PeriodicEnable) != 0 && DividerRuns && PeriodicHz is int hz)
            next = _dividerStart + (long)(((Int128)(PeriodIndex(now) + 1) * Stopwatch.Frequency + hz - 1) / hz);
        if ((b & (AlarmEnable | UpdateEnable)) != 0 && ClockRuns)
        {
            long nextSecond = (ClockTicks(now) / TicksPerSecond + 1) * TicksPerSecond;
            long at = _clockStart + (long)((Int128)(nextSecond - _clockAtStart) * Stopwatch.Frequency / TicksPerSecond) + 1;
            next = Math.Min(next, at);
        }
        return next;
    }

    /// <summary>Brings the flags up to <paramref name="now"/>: a periodic tick, an update, an alarm match.</summary>
    public void Advance(long now)
    {
        if (DividerRuns && PeriodicHz != null)
        {
            long period = PeriodIndex(now);
            if (period != _lastPeriod) _ram[RegisterC] |= PeriodicFlag;
            _lastPeriod = period;
        }
        if (ClockRuns)
        {
            long ticks = ClockTicks(now);
            long second = ticks / TicksPerSecond;
            if (second != _lastUpdate)
            {
                _ram[RegisterC] |= UpdateFlag;
                var time = new DateTime(second * TicksPerSecond);
                if (AlarmMatches(SecondsAlarm, Seconds, time) && AlarmMatches(MinutesAlarm, Minutes, time) && AlarmMatches(HoursAlarm, Hours, time))
                    _ram[RegisterC] |= AlarmFlag;
            }
            _lastUpdate = second;
        }
        UpdateInterruptFlag();
    }

    private bool AlarmMatches(int alarm, int register, DateTime time) =>
        _ram[alarm] >= AlarmDontCare || _ram[alarm] == TimeRegister(register, time);

    private void UpdateInterruptFlag()
    {
        byte c = _ram[RegisterC], b = _ram[RegisterB];
        if ((c & b & (PeriodicFlag | AlarmFlag | UpdateFlag)) != 0) _ram[RegisterC] |= InterruptFlag;
    }

    /// <summary>The periodic rate register A selects, or null for none: RS 3-15 give 8192 Hz down to 2 Hz; 1 and 2 are 256 and 128 Hz.</summary>
    private int? PeriodicHz => (_ram[RegisterA] & RateMask) switch
    {
        0 => null,
        1 => 256,
        2 => 128,
        var rs => 65536 >> rs,
    };

    private long PeriodIndex(long now) =>
        PeriodicHz is int hz ? (long)((Int128)(now - _dividerStart) * hz / Stopwatch.Frequency) : 0;

    private long ClockTicks(long now) =>
        _clockAtStart + (long)((Int128)(now - _clockStart) * TicksPerSecond / Stopwatch.Frequency);

    private bool InUpdateWindow(long now) => ClockTicks(now) % TicksPerSecond >= TicksPerSecond - UpdateInProgressTicks;

    /// <summary>
    /// Applies a write to register A or B; a clock that stops leaves its time in the registers, one that starts
    /// takes it from them. A divider released from reset makes its first update half a second later, as the chip does.
    /// </summary>
    private void StopOrStartClock(long now, Action write)
    {
        bool ran = ClockRuns, dividerRan = DividerRuns;
        if (ran) StoreTime(ClockTicks(now));
        write();
        if (!ran && ClockRuns) StartClock(ParseTime() + (dividerRan ? 0 : TicksPerSecond / 2), now);
    }

    private void StartClock(long ticks, long now)
    {
        _clockAtStart = ticks;
        _clockStart = now;
        _lastUpdate = ticks / TicksPerSecond;
    }

    private void StoreTime(long ticks)
    {
        var time = new DateTime(ticks);
        foreach (int index in (ReadOnlySpan<int>)[Seconds, Minutes, Hours, DayOfWeek, DayOfMonth, Month, Year, Century])
            _ram[index] = TimeRegister(index, time);
    }

    private byte TimeRegister(int index, DateTime time) => index switch
    {
        Seconds => Encode(time.Second),
        Minutes => Encode(time.Minute),
        Hours when (_ram[RegisterB] & Hours24) != 0 => Encode(time.Hour),
        Hours => (byte)(Encode(time.Hour % 12 == 0 ? 12 : time.Hour % 12) | (time.Hour >= 12 ? 0x80 : 0)),
        DayOfWeek => Encode((int)time.DayOfWeek + 1),
        DayOfMonth => Encode(time.Day),
        Month => Encode(time.Month),
        Year => Encode(time.Year % 100),
        Century => Encode(time.Year / 100),
        _ => _ram[index],
    };

    /// <summary>The time the registers hold, in DateTime ticks; out-of-range fields are clamped, as no real date is without them.</summary>
    private long ParseTime()
    {
        int hourByte = _ram[Hours];
        int hour = (_ram[RegisterB] & Hours24) != 0
            ? Decode(hourByte)
            : Decode(hourByte & 0x7F) % 12 + ((hourByte & 0x80) != 0 ? 12 : 0);
        int year = Math.Clamp(Decode(_ram[Century]) * 100 + Decode(_ram[Year]), 1, 9999);
        int month = Math.Clamp(Decode(_ram[Month]), 1, 12);
        int day = Math.Clamp(Decode(_ram[DayOfMonth]), 1, DateTime.DaysInMonth(year, month));
        return new DateTime(year, month, day).Ticks
            + Math.Clamp(hour, 0, 23) * TimeSpan.TicksPerHour
            + Math.Clamp(Decode(_ram[Minutes]), 0, 59) * TimeSpan.TicksPerMinute
            + Math.Clamp(Decode(_ram[Seconds]), 0, 59) * TicksPerSecond;
    }

    private byte Encode(int value) => BinaryMode ? (byte)value : (byte)(value / 10 << 4 | value % 10);

    private int Decode(int value) => BinaryMode ? value : (value >> 4) * 10 + (value & 0xF);
}
