using System.Diagnostics;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// One counter of the 8254. It does not tick: it remembers when it started counting and works out the counter
/// and OUT from the host clock whenever asked. Not thread-safe; <see cref="Pit8254"/> serialises calls.
/// </summary>
/// <remarks>
/// GATE: in modes 0, 2, 3 and 4 a low gate suspends counting (and in 2 and 3 holds OUT high); a rising edge restarts
/// the count in modes 2 and 3 and triggers it in modes 1 and 5. A channel whose gate is not wired (channels 0 and 1
/// of a PC, tied high) starts modes 1 and 5 on the count write instead, since no edge will ever come.
/// </remarks>
internal sealed class PitChannel
{
    public const long InputHz = 1_193_182;

    private const int AccessLow = 1, AccessHigh = 2, AccessLowHigh = 3;

    private int _access = AccessLowHigh;
    private bool _bcd;
    private int _reload = 0x10000;
    private readonly bool _gateWired;
    private bool _gate = true;
    private bool _triggered;           // modes 1 and 5: a gate edge (or, unwired, the count write) started the count
    private long _startTimestamp;      // when counting last (re)started
    private long _ticksBeforeStart;    // clocks counted before the gate last suspended counting
    private ushort _frozenCount;       // what the counter reads between a control word and the next count
    private bool _writeHigh, _readHigh, _nullCount;
    private byte _pendingLow;
    private int? _latchedCount;
    private bool _latchedHighNext;
    private byte? _latchedStatus;

    public PitChannel(bool gateWired) => _gateWired = gateWired;

    /// <summary>0..5; the 8254's modes 6 and 7 are stored as 2 and 3, which they are.</summary>
    public int Mode { get; private set; }

    /// <summary>A count has been loaded since the last control word, so the counter runs.</summary>
    public bool Counting { get; private set; }

    /// <summary>The loaded count in input clock ticks (1..65536).</summary>
    public int Reload => _reload;

    /// <summary>When counting last started: the count load, or for a gated channel the gate's rising edge.</summary>
    public long StartTimestamp => _startTimestamp;

    private bool Running => Counting && (Mode is 1 or 5 ? _triggered : _gate);

    /// <summary>A control word with a non-zero access mode: the counter stops until the next count is written.</summary>
    public void Program(int access, int mode, bool bcd, long now)
    {
        _frozenCount = CurrentCount(now);
        _access = access;
        Mode = mode > 5 ? mode - 4 : mode;
        _bcd = bcd;
        Counting = false;
        _nullCount = true;
        _writeHigh = _readHigh = false;
        _latchedCount = null;
        _latchedStatus = null;
    }

    /// <summary>Returns true when the counter restarted with a new count or stopped for one (mode 0's first byte).</summary>
    public bool WriteCount(byte value, long now)
    {
        switch (_access)
        {
            case AccessLow:
                Load(value, now);
                return true;
            case AccessHigh:
                Load(value << 8, now);
                return true;
            default:
                if (!_writeHigh)
                {
                    _pendingLow = value;
                    _writeHigh = true;
                    // In mode 0 the first byte of a new count stops the counter (datasheet).
                    if (Mode != 0 || !Counting) return false;
                    _frozenCount = CurrentCount(now);
                    Counting = false;
                    return true;
                }
                _writeHigh = false;
                Load(_pendingLow | value << 8, now);
                return true;
        }
    }

    public byte Read(long now)
    {
        if (_latchedStatus is { } status)
        {
            _latchedStatus = null;
            return status;
        }
        if (_latchedCount is { } latched)
        {
            if (_access == AccessLowHigh && !_latchedHighNext)
            {
                _latchedHighNext = true;
                return (byte)latched;
            }
            _latchedCount = null;
            _latchedHighNext = false;
            return (byte)(_access == AccessLow ? latched : latched >> 8);
        }
        int count = CurrentCount(now);
        switch (_access)
        {
            case AccessLow: return (byte)count;
            case AccessHigh: return (byte)(count >> 8);
            default:
                _readHigh = !_readHigh;
                return (byte)(_readHigh ? count : count >> 8);
        }
    }

    /// <summary>Counter latch command; a second latch before the first is read is ignored (datasheet).</summary>
    public void LatchCount(long now)
    {
        if (_latchedCount is null)
        {
            _latchedCount = CurrentCount(now);
            _latchedHighNext = false;
        }
    }

    public void LatchStatus(long now)
    {
        _latchedStatus ??= (byte)((Output(now) ? 0x80 : 0) | (_nullCount ? 0x40 : 0) | _access << 4 | Mode << 1 | (_bcd ? 1 : 0));
    }

    /// <summary>A level on GATE: suspends or resumes counting, and on a rising edge restarts (modes 2, 3) or triggers (1, 5) it.</summary>
    public void SetGate(bool high, long now)
    {
        if (high == _gate) return;
        if (Running) _ticksBeforeStart += TicksSince(_startTimestamp, now);
        _gate = high;
        if (high && Mode is 1 or 2 or 3 or 5)
        {
            _ticksBeforeStart = 0;
            _triggered = true;
        }
        _startTimestamp = now;
    }

    /// <summary>The OUT pin now.</summary>
    public bool Output(long now)
    {
        if (!Counting) return Mode != 0;
        if (!Running && Mode is not (0 or 4)) return true; // 1 and 5 untriggered, 2 and 3 held by a low gate
        long t = Elapsed(now);
        return Mode switch
        {
            0 or 1 => t >= _reload,
            2 => t % _reload != _reload - 1,            // low for the one clock at count 1
            3 => t % _reload < (_reload + 1) / 2,       // high for the first (larger) half
            _ => t != _reload,                          // modes 4 and 5: a one-clock low strobe at terminal count
        };
    }

    /// <summary>The counting element now, in the counter's own format (binary or BCD).</summary>
    private ushort CurrentCount(long now)
    {
        if (!Counting || (Mode is 1 or 5 && !_triggered)) return _frozenCount;
        long t = Elapsed(now);
        int modulus = _bcd ? 10000 : 0x10000;
        long value = Mode switch
        {
            2 => _reload - t % _reload,
            // Mode 3 decrements by two, twice per period; an odd count's extra clock is not modelled.
            3 => (_reload - 2 * t % _reload) & ~1L,
            // Modes 0, 1, 4, 5 count down through zero and wrap.
            _ => ((_reload - t) % modulus + modulus) % modulus,
        };
        value %= modulus; // a full-range reload (65536 or BCD 10000) reads as 0
        return _bcd ? ToBcd((int)value) : (ushort)value;
    }

    private void Load(int raw, long now)
    {
        int ticks = _bcd ? FromBcd(raw) : raw;
        _reload = ticks == 0 ? (_bcd ? 10000 : 0x10000) : ticks;
        _startTimestamp = now;
        _ticksBeforeStart = 0;
        _triggered = !_gateWired;
        Counting = true;
        _nullCount = false;
    }

    /// <summary>Input clocks counted since the count was loaded or restarted.</summary>
    public void SaveState(StateWriter w)
    {
        w.WriteInt32(_access);
        w.WriteInt32(Mode);
        w.WriteInt32(_reload);
        w.WriteTimestamp(_startTimestamp);
        w.WriteInt64(_ticksBeforeStart);
        w.WriteUInt16(_frozenCount);
        w.WriteByte(_pendingLow);
        foreach (bool f in (ReadOnlySpan<bool>)[_bcd, _gate, _triggered, Counting, _writeHigh, _readHigh, _nullCount, _latchedHighNext])
            w.WriteBool(f);
        w.WriteInt32(_latchedCount ?? -1);
        w.WriteInt32(_latchedStatus ?? -1);
    }

    public void RestoreState(StateReader r)
    {
        _access = r.ReadInt32(AccessLow, AccessLowHigh, "a PIT channel's access mode");
        Mode = r.ReadInt32(0, 5, "a PIT channel's mode");
        _reload = r.ReadInt32(1, 0x10000, "a PIT channel's reload value");
        _startTimestamp = r.ReadTimestamp();
        _ticksBeforeStart = r.ReadInt64();
        r.Check(_ticksBeforeStart >= 0, "a PIT channel counted a negative time");
        _frozenCount = r.ReadUInt16();
        _pendingLow = r.ReadByte();
        (_bcd, _gate, _triggered, bool counting) = (r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool());
        Counting = counting;
        (_writeHigh, _readHigh, _nullCount, _latchedHighNext) = (r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool());
        int latched = r.ReadInt32(-1, 0xFFFF, "a PIT channel's latched count");
        _latchedCount = latched < 0 ? null : latched;
        int status = r.ReadInt32(-1, 0xFF, "a PIT channel's latched status");
        _latchedStatus = status < 0 ? null : (byte)status;
    }

    private long Elapsed(long now) => _ticksBeforeStart + (Running ? TicksSince(_startTimestamp, now) : 0);

    private static long TicksSince(long start, long now) =>
        (long)((Int128)(now - start) * InputHz / Stopwatch.Frequency);

    private static int FromBcd(int raw) =>
        (raw >> 12 & 0xF) * 1000 + (raw >> 8 & 0xF) * 100 + (raw >> 4 & 0xF) * 10 + (raw & 0xF);

    private static ushort ToBcd(int value) =>
        (ushort)(value / 1000 << 12 | value / 100 % 10 << 8 | value / 10 % 10 << 4 | value % 10);
}
