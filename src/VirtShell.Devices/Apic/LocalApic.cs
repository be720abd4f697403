using System.Diagnostics;
using System.Numerics;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Apic;

/// <summary>
/// The registers of one xAPIC (Intel SDM vol. 3, chapter 11): ID, version, TPR/APR/PPR, EOI, LDR/DFR, the spurious
/// vector register, ISR/TMR/IRR, ESR, ICR, the six LVT entries and the timer. Only the register model: it reads no
/// clock (callers pass the <see cref="Stopwatch"/> timestamp), starts no thread, claims no address and takes no
/// lock — <see cref="ApicChipset"/> does those and serialises every call.
/// </summary>
/// <remarks>
/// The timer keeps time as the 8254 does, without ticking: it remembers when its count was loaded and computes the
/// current count from the clock; <see cref="TimerDeadline"/> tells the host when the next interrupt is due.
/// NMI messages from the ICR are accepted (<see cref="NmiPending"/>); nothing drives LINT1, the board having no NMI
/// source. SMI, INIT and start-up (no other CPUs to start) are ignored wherever they are the delivery mode, and LINT0
/// passes the 8259 only in ExtINT mode.
/// </remarks>
public sealed class LocalApic
{
    /// <summary>The timer's input clock: a 1 GHz bus clock, as QEMU and KVM give theirs.</summary>
    public const long TimerHz = 1_000_000_000;

    public const uint Version = 0x14, MaxLvtEntry = 5;

    // Register offsets in the 4 KiB page.
    public const int RegId = 0x20, RegVersion = 0x30, RegTpr = 0x80, RegApr = 0x90, RegPpr = 0xA0, RegEoi = 0xB0,
        RegRrd = 0xC0, RegLdr = 0xD0, RegDfr = 0xE0, RegSvr = 0xF0, RegIsr = 0x100, RegTmr = 0x180, RegIrr = 0x200,
        RegEsr = 0x280, RegIcrLow = 0x300, RegIcrHigh = 0x310, RegLvtTimer = 0x320, RegLvtThermal = 0x330,
        RegLvtPerf = 0x340, RegLvtLint0 = 0x350, RegLvtLint1 = 0x360, RegLvtError = 0x370, RegTimerInitial = 0x380,
        RegTimerCurrent = 0x390, RegTimerDivide = 0x3E0;

    public const uint LvtMasked = 1 << 16, LvtTimerPeriodic = 1 << 17, LvtLevel = 1 << 15;
    public const uint SvrEnabled = 1 << 8;
    public const int DeliveryFixed = 0, DeliveryLowest = 1, DeliveryNmi = 4, DeliveryExtInt = 7;

    /// <summary>ESR bits: a vector below 16 sent (by the ICR) or received.</summary>
    public const uint EsrSendIllegalVector = 1 << 5, EsrReceiveIllegalVector = 1 << 6;

    private const int LvtTimer = 0, LvtThermal = 1, LvtPerf = 2, LvtLint0 = 3, LvtLint1 = 4, LvtError = 5;

    /// <summary>The writable bits of each LVT entry (delivery status and remote IRR are the APIC's own).</summary>
    private static readonly uint[] LvtWritable = [0x300FF, 0x107FF, 0x107FF, 0x1A7FF, 0x1A7FF, 0x100FF];

    private readonly uint[] _isr = new uint[8], _tmr = new uint[8], _irr = new uint[8];
    private readonly uint[] _lvt = new uint[6];
    private uint _id, _tpr, _ldr, _dfr, _svr, _esr, _esrPending, _icrLow, _icrHigh, _divide;
    private uint _timerInitial;
    private long _timerStart;
    private int _timerShift;
    private bool _timerFired;
    private readonly Action<int> _levelEoi;

    /// <param name="levelEoi">Told the vector of every EOI for a level-triggered interrupt (the EOI broadcast the I/O APIC waits for).</param>
    public LocalApic(Action<int> levelEoi)
    {
        _levelEoi = levelEoi;
        Reset();
    }

    /// <summary>The power-up state: software disabled, every LVT entry masked, nothing pending, timer stopped.</summary>
    public void Reset()
    {
        Array.Clear(_isr);
        Array.Clear(_tmr);
        Array.Clear(_irr);
        for (int i = 0; i < _lvt.Length; i++) _lvt[i] = LvtMasked;
        _id = _tpr = _ldr = _esr = _esrPending = _icrLow = _icrHigh = _divide = 0;
        _dfr = uint.MaxValue;
        _svr = 0xFF;
        _timerInitial = 0;
        _timerShift = 1;
        _timerFired = false;
        NmiPending = false;
        TimerDeadline = DeadlineTimer.Never;
    }

    public void SaveState(StateWriter w)
    {
        foreach (var bits in (ReadOnlySpan<uint[]>)[_isr, _tmr, _irr, _lvt])
            foreach (uint word in bits) w.WriteUInt32(word);
        foreach (uint register in (ReadOnlySpan<uint>)[_id, _tpr, _ldr, _dfr, _svr, _esr, _esrPending, _icrLow, _icrHigh, _divide, _timerInitial])
            w.WriteUInt32(register);
        w.WriteTimestamp(_timerStart);
        w.WriteInt32(_timerShift);
        w.WriteBool(_timerFired);
        w.WriteBool(NmiPending);
        w.WriteDeadline(TimerDeadline, DeadlineTimer.Never);
    }

    public void RestoreState(StateReader r)
    {
        foreach (var bits in (ReadOnlySpan<uint[]>)[_isr, _tmr, _irr, _lvt])
            for (int i = 0; i < bits.Length; i++) bits[i] = r.ReadUInt32();
        (_id, _tpr, _ldr, _dfr, _svr, _esr) = (r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32());
        (_esrPending, _icrLow, _icrHigh, _divide, _timerInitial) = (r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32());
        _timerStart = r.ReadTimestamp();
        _timerShift = r.ReadInt32(0, 7, "the local APIC timer's divide shift");
        _timerFired = r.ReadBool();
        NmiPending = r.ReadBool();
        TimerDeadline = r.ReadDeadline(DeadlineTimer.Never);
    }

    public byte Id => (byte)(_id >> 24);

    /// <summary>An NMI this APIC accepted (an ICR message to itself) that the CPU has not taken yet.</summary>
    public bool NmiPending { get; set; }

    public bool SoftwareEnabled => (_svr & SvrEnabled) != 0;

    /// <summary>LINT0 passes the 8259's INTR to the CPU: unmasked and in ExtINT mode (virtual wire mode).</summary>
    public bool ExtIntOpen => (_lvt[LvtLint0] & (LvtMasked | 0x700)) == DeliveryExtInt << 8;

    /// <summary>When the timer next wants to interrupt, as a <see cref="Stopwatch"/> timestamp, or <see cref="DeadlineTimer.Never"/>.</summary>
    public long TimerDeadline { get; private set; }

    /// <summary>The highest vector the processor would take now: software enabled and above the PPR's class; else -1.</summary>
    public int DeliverableVector
    {
        get
        {
            if (!SoftwareEnabled) return -1;
            int irrv = Highest(_irr);
            return irrv >= 0 && (irrv & 0xF0) > (Ppr & 0xF0) ? irrv : -1;
        }
    }

    /// <summary>The INTA cycle for an APIC interrupt: IRR to ISR. Returns the vector, or -1 when none is deliverable.</summary>
    public int Acknowledge()
    {
        int vector = DeliverableVector;
        if (vector < 0) return -1;
        Clear(_irr, vector);
        Set(_isr, vector);
        return vector;
    }

    /// <summary>An interrupt message with fixed or lowest-priority delivery reaches this APIC.</summary>
    public void Accept(int vector, bool level)
    {
        if (vector < 16)
        {
            SignalError(EsrReceiveIllegalVector);
            return;
        }
        Set(_irr, vector);
        if (level) Set(_tmr, vector);
        else Clear(_tmr, vector);
    }

    /// <summary>Whether a message for <paramref name="destination"/> in physical or logical mode is for this APIC.</summary>
    public bool IsDestination(byte destination, bool logical)
    {
        if (!logical) return destination == 0xFF || destination == Id;
        byte ldr = (byte)(_ldr >> 24);
        if (_dfr >> 28 == 0xF) return (ldr & destination) != 0; // flat model
        // Cluster model: the high nibbles name the cluster (15 is all), the low ones the members.
        return ((destination >> 4) == 0xF || (destination >> 4) == (ldr >> 4)) && (ldr & destination & 0xF) != 0;
    }

    /// <summary>The timer's deadline has come (<paramref name="due"/>, now <paramref name="now"/>): interrupts and reschedules.</summary>
    public void TimerDue(long due, long now)
    {
        if (_timerInitial == 0) return;
        uint lvt = _lvt[LvtTimer];
        if ((lvt & LvtMasked) == 0) Accept((int)(lvt & 0xFF), level: false);
        if ((lvt & LvtTimerPeriodic) == 0)
        {
            _timerFired = true;
            TimerDeadline = DeadlineTimer.Never;
        }
        else
        {
            // As the 8254's edges: on the grid of the count load, missed periods merged into this one.
            long period = InterruptPeriod;
            TimerDeadline = due + ((now - due) / period + 1) * period;
        }
    }

    public uint Read(int offset, long now)
    {
        switch (offset)
        {
            case RegId: return _id;
            case RegVersion: return Version | MaxLvtEntry << 16;
            case RegTpr: return _tpr;
            case RegApr: return Apr;
            case RegPpr: return Ppr;
            case RegLdr: return _ldr;
            case RegDfr: return _dfr;
            case RegSvr: return _svr;
            case RegEsr: return _esr;
            case RegIcrLow: return _icrLow;
            case RegIcrHigh: return _icrHigh;
            case >= RegLvtTimer and <= RegLvtError when (offset & 0xF) == 0: return _lvt[(offset - RegLvtTimer) >> 4];
            case RegTimerInitial: return _timerInitial;
            case RegTimerCurrent: return CurrentCount(now);
            case RegTimerDivide: return _divide;
            case >= RegIsr and < RegIsr + 0x80 when (offset & 0xF) == 0: return _isr[(offset - RegIsr) >> 4];
            case >= RegTmr and < RegTmr + 0x80 when (offset & 0xF) == 0: return _tmr[(offset - RegTmr) >> 4];
            case >= RegIrr and < RegIrr + 0x80 when (offset & 0xF) == 0: return _irr[(offset - RegIrr) >> 4];
            default: return 0; // EOI and RRD read as 0, and so do the reserved offsets
        }
    }

    public void Write(int offset, uint value, long now)
    {
        switch (offset)
        {
            case RegId: _id = value & 0xFF00_0000; break;
            case RegTpr: _tpr = value & 0xFF; break;
            case RegEoi: EndOfInterrupt(); break;
            case RegLdr: _ldr = value & 0xFF00_0000; break;
            case RegDfr: _dfr = value | 0x0FFF_FFFF; break;
            case RegSvr:
                _svr = value & 0x3FF; // vector, software enable, focus check; no EOI-broadcast suppression
                if (!SoftwareEnabled)
                    for (int i = 0; i < _lvt.Length; i++) _lvt[i] |= LvtMasked;
                break;
            case RegEsr:
                // The ESR shows the errors found since the last write to it (SDM: write before reading).
                _esr = _esrPending;
                _esrPending = 0;
                break;
            case RegIcrLow:
                _icrLow = value & 0x000C_CFFF; // delivery status always reads idle: a message is sent at once
                SendInterprocessorInterrupt();
                break;
            case RegIcrHigh: _icrHigh = value & 0xFF00_0000; break;
            case >= RegLvtTimer and <= RegLvtError when (offset & 0xF) == 0:
                WriteLvt((offset - RegLvtTimer) >> 4, value, now);
                break;
            case RegTimerInitial:
                _timerInitial = value;
                _timerStart = now;
                _timerFired = false;
                ScheduleTimer(now);
                break;
            case RegTimerDivide:
                uint counted = _timerInitial - CurrentCount(now);
                _divide = value & 0xB;
                _timerShift = (int)(((_divide & 3) | (_divide >> 1 & 4)) + 1) & 7;
                // The counts already gone stay gone: the new rate applies from now.
                _timerStart = now - ToStopwatch((long)counted << _timerShift);
                ScheduleTimer(now);
                break;
        }
    }

    private void WriteLvt(int entry, uint value, long now)
    {
        value &= LvtWritable[entry];
        if (!SoftwareEnabled) value |= LvtMasked; // a software-disabled APIC keeps every entry masked
        _lvt[entry] = value | (_lvt[entry] & ~LvtWritable[entry]);
        if (entry == LvtTimer) ScheduleTimer(now);
    }

    private void EndOfInterrupt()
    {
        int vector = Highest(_isr);
        if (vector < 0) return;
        Clear(_isr, vector);
        if (IsSet(_tmr, vector)) _levelEoi(vector);
    }

    /// <summary>Only this processor exists: a fixed message reaches it through "self", "all" or its own destination.</summary>
    private void SendInterprocessorInterrupt()
    {
        int vector = (int)(_icrLow & 0xFF);
        int mode = (int)(_icrLow >> 8 & 7);
        if (mode is not (DeliveryFixed or DeliveryLowest or DeliveryNmi)) return; // SMI, INIT, start-up: nothing to do with one CPU
        bool toSelf = (_icrLow >> 18 & 3) switch
        {
            0 => IsDestination((byte)(_icrHigh >> 24), logical: (_icrLow & 1 << 11) != 0),
            1 or 2 => true,   // self, all including self
            _ => false,       // all excluding self: there is nobody else
        };
        if (mode == DeliveryNmi)
        {
            // The vector field is ignored; NMIs sent while one waits merge into it, as on the CPU's NMI pin.
            if (toSelf) NmiPending = true;
            return;
        }
        if (vector < 16)
        {
            SignalError(EsrSendIllegalVector | (toSelf ? EsrReceiveIllegalVector : 0));
            return;
        }
        if (toSelf) Accept(vector, level: (_icrLow & LvtLevel) != 0 && (_icrLow & 1 << 14) != 0);
    }

    private void SignalError(uint bits)
    {
        _esrPending |= bits;
        uint lvt = _lvt[LvtError];
        if ((lvt & LvtMasked) == 0 && (lvt & 0xFF) >= 16) Set(_irr, (int)(lvt & 0xFF));
    }

    /// <summary>SDM 11.8.3.1: the task priority unless the in-service class is above it.</summary>
    private uint Ppr
    {
        get
        {
            int isrv = Math.Max(Highest(_isr), 0);
            return (_tpr & 0xF0) >= (isrv & 0xF0) ? _tpr : (uint)isrv & 0xF0;
        }
    }

    /// <summary>SDM 11.6.2.4: the priority an arbitration would use, from TPR, ISRV and IRRV.</summary>
    private uint Apr
    {
        get
        {
            uint isrv = (uint)Math.Max(Highest(_isr), 0), irrv = (uint)Math.Max(Highest(_irr), 0);
            if ((_tpr & 0xF0) >= (irrv & 0xF0) && (_tpr & 0xF0) > (isrv & 0xF0)) return _tpr;
            return Math.Max(_tpr & 0xF0, Math.Max(isrv & 0xF0, irrv & 0xF0));
        }
    }

    private uint CurrentCount(long now)
    {
        if (_timerInitial == 0) return 0;
        long counted = ToTimerTicks(now - _timerStart) >> _timerShift;
        if ((_lvt[LvtTimer] & LvtTimerPeriodic) != 0) return _timerInitial - (uint)(counted % _timerInitial);
        return counted >= _timerInitial ? 0 : _timerInitial - (uint)counted;
    }

    /// <summary>A count load, a divide change or a new timer mode: when is the next interrupt.</summary>
    private void ScheduleTimer(long now)
    {
        if (_timerInitial == 0)
        {
            TimerDeadline = DeadlineTimer.Never;
            return;
        }
        long first = _timerStart + ToStopwatch((long)_timerInitial << _timerShift);
        if ((_lvt[LvtTimer] & LvtTimerPeriodic) != 0)
        {
            long period = InterruptPeriod;
            TimerDeadline = now < first ? first : first + ((now - first) / period + 1) * period;
        }
        else TimerDeadline = _timerFired ? DeadlineTimer.Never : first;
    }

    /// <summary>The periodic timer's interrupt period, clamped as the 8254's is (the counter itself is exact).</summary>
    private long InterruptPeriod => Math.Max(ToStopwatch((long)_timerInitial << _timerShift), DeadlineTimer.MinPeriod);

    private static long ToTimerTicks(long stopwatchTicks) => (long)((Int128)stopwatchTicks * TimerHz / Stopwatch.Frequency);

    private static long ToStopwatch(long timerTicks) => (long)((Int128)timerTicks * Stopwatch.Frequency / TimerHz);

    private static int Highest(uint[] bits)
    {
        for (int i = bits.Length - 1; i >= 0; i--)
            if (bits[i] != 0) return i * 32 + 31 - BitOperations.LeadingZeroCount(bits[i]);
        return -1;
    }

    private static void Set(uint[] bits, int vector) => bits[vector >> 5] |= 1u << (vector & 31);
    private static void Clear(uint[] bits, int vector) => bits[vector >> 5] &= ~(1u << (vector & 31));
    private static bool IsSet(uint[] bits, int vector) => (bits[vector >> 5] & 1u << (vector & 31)) != 0;
}
