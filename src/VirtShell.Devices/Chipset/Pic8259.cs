using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// One 8259A: the registers and priority logic of a single chip. Not thread-safe on its own; <see cref="Pic8259Pair"/>
/// owns two of them (master and slave) and serialises every call under its lock.
/// </summary>
internal sealed class Pic8259(bool isMaster)
{
    private byte _irr, _isr, _imr = 0xFF;
    private byte _lines;               // the level on each IR input pin, for edge detection
    private byte _vectorBase;
    private byte _cascade;             // ICW3: the inputs with a slave (master) or the slave's id (slave)
    private int _highestPriority;      // the IR with priority 0; rotation moves it
    private int _initStep;             // 0 = operational; 2, 3, 4 = the ICW expected next
    private bool _expectIcw3, _expectIcw4;
    private bool _levelTriggered, _autoEoi, _rotateOnAutoEoi, _specialMask, _specialFullyNested;
    private bool _readIsr, _poll;

    /// <summary>
    /// True once ICW2 gave the chip its vectors. Until a guest programs it the chip keeps every input masked: a PC
    /// without a BIOS must not take interrupts at vector garbage.
    /// </summary>
    public bool Initialized { get; private set; }

    public byte VectorBase => _vectorBase;

    /// <summary>An IR input pin changed level.</summary>
    public void SetInput(int line, bool level)
    {
        byte bit = (byte)(1 << line);
        if (_levelTriggered)
        {
            if (level) _irr |= bit; else _irr &= (byte)~bit;
        }
        else if (level && (_lines & bit) == 0)
        {
            _irr |= bit; // edge mode latches the rising edge; the request stays until acknowledged
        }
        if (level) _lines |= bit; else _lines &= (byte)~bit;
    }

    /// <summary>
    /// The master's IR2 carries the slave's INT. It re-requests whenever the slave has something to deliver, even if
    /// INT never dropped between two slave interrupts, so a second slave request is not lost in edge mode.
    /// </summary>
    public void SetCascadeInput(int line, bool slaveActive)
    {
        byte bit = (byte)(1 << line);
        if (slaveActive) { _irr |= bit; _lines |= bit; }
        else
        {
            _lines &= (byte)~bit;
            if (_levelTriggered) _irr &= (byte)~bit;
        }
    }

    /// <summary>The IR the chip would signal on INT now, or -1: the highest-priority unmasked request above everything in service.</summary>
    public int PendingRequest()
    {
        int pending = _irr & ~_imr;
        if (pending == 0) return -1;
        int inService = _isr;
        // Special mask mode lets a masked in-service level stop blocking lower priorities (datasheet, OCW3).
        if (_specialMask) inService &= ~_imr;
        // Special fully nested mode: the slave may interrupt again while its own cascade input is in service.
        if (_specialFullyNested && isMaster) inService &= ~_cascade;
        int request = HighestPriority(pending);
        int current = inService == 0 ? 8 : PriorityOf(HighestPriority(inService));
        return PriorityOf(request) < current ? request : -1;
    }

    /// <summary>The INTA cycle for <paramref name="line"/>: the request moves from IRR to ISR (or, with auto-EOI, just goes).</summary>
    public void Acknowledge(int line)
    {
        byte bit = (byte)(1 << line);
        if (!_levelTriggered) _irr &= (byte)~bit;
        if (_autoEoi)
        {
            if (_rotateOnAutoEoi) _highestPriority = (line + 1) & 7;
        }
        else _isr |= bit;
    }

    public byte Read(int offset)
    {
        if (_poll)
        {
            // Poll mode: the read is the acknowledge, and says which level (bit 7 = something was pending).
            _poll = false;
            int line = PendingRequest();
            if (line < 0) return 0;
            Acknowledge(line);
            return (byte)(0x80 | line);
        }
        if (offset == 1) return _imr;
        return _readIsr ? _isr : _irr;
    }

    public void Write(int offset, byte value)
    {
        if (offset == 0)
        {
            if ((value & 0x10) != 0) Icw1(value);
            else if ((value & 0x08) != 0) Ocw3(value);
            else Ocw2(value);
            return;
        }
        switch (_initStep)
        {
            case 2:
                _vectorBase = (byte)(value & 0xF8);
                Initialized = true;
                _initStep = _expectIcw3 ? 3 : _expectIcw4 ? 4 : 0;
                break;
            case 3:
                _cascade = value;
                _initStep = _expectIcw4 ? 4 : 0;
                break;
            case 4:
                // Bit 0 (8086 mode) is assumed: an 8080-mode CALL sequence means nothing to an x86 CPU.
                _autoEoi = (value & 0x02) != 0;
                _specialFullyNested = (value & 0x10) != 0;
                _initStep = 0;
                break;
            default:
                _imr = value; // OCW1
                break;
        }
    }

    private void Icw1(byte value)
    {
        // ICW1 resets the chip (datasheet): masks cleared, nothing in service, IR0 highest, edge-sense latches
        // cleared. Devices restate their line level on every change, so an input still high requests again then.
        _expectIcw4 = (value & 0x01) != 0;
        _expectIcw3 = (value & 0x02) == 0;
        _levelTriggered = (value & 0x08) != 0;
        _imr = 0;
        _isr = 0;
        _irr = 0;
        if (_levelTriggered) _irr = _lines;
        else _lines = 0;
        _highestPriority = 0;
        _specialMask = false;
        _readIsr = false;
        _poll = false;
        _autoEoi = false;
        _rotateOnAutoEoi = false;
        _specialFullyNested = false;
        _initStep = 2;
    }

    private void Ocw2(byte value)
    {
        int level = value & 7;
        switch (value >> 5)
        {
            case 0b001: // non-specific EOI
                EndHighestInService(rotate: false);
                break;
            case 0b011: // specific EOI
                _isr &= (byte)~(1 << level);
                break;
            case 0b101: // rotate on non-specific EOI
                EndHighestInService(rotate: true);
                break;
            case 0b100:
                _rotateOnAutoEoi = true;
                break;
            case 0b000:
                _rotateOnAutoEoi = false;
                break;
            case 0b111: // rotate on specific EOI
                _isr &= (byte)~(1 << level);
                _highestPriority = (level + 1) & 7;
                break;
            case 0b110: // set priority: the given level becomes the lowest
                _highestPriority = (level + 1) & 7;
                break;
        }
    }

    private void Ocw3(byte value)
    {
        if ((value & 0x40) != 0) _specialMask = (value & 0x20) != 0;
        if ((value & 0x04) != 0) _poll = true;
        if ((value & 0x02) != 0) _readIsr = (value & 0x01) != 0;
    }

    private void EndHighestInService(bool rotate)
    {
        if (_isr == 0) return;
        int line = HighestPriority(_isr);
        _isr &= (byte)~(1 << line);
        if (rotate) _highestPriority = (line + 1) & 7;
    }

    /// <summary>Priority 0 is the highest; rotation decides which IR that is.</summary>
    public void SaveState(StateWriter w)
    {
        foreach (byte b in (ReadOnlySpan<byte>)[_irr, _isr, _imr, _lines, _vectorBase, _cascade]) w.WriteByte(b);
        w.WriteInt32(_highestPriority);
        w.WriteInt32(_initStep);
        foreach (bool f in (ReadOnlySpan<bool>)[Initialized, _expectIcw3, _expectIcw4, _levelTriggered, _autoEoi,
                     _rotateOnAutoEoi, _specialMask, _specialFullyNested, _readIsr, _poll])
            w.WriteBool(f);
    }

    public void RestoreState(StateReader r)
    {
        (_irr, _isr, _imr, _lines, _vectorBase, _cascade) = (r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte());
        r.Check((_vectorBase & 7) == 0, "an 8259's vector base is not a multiple of 8");
        _highestPriority = r.ReadInt32(0, 7, "an 8259's highest-priority input");
        _initStep = r.ReadInt32(0, 4, "an 8259's initialization step");
        r.Check(_initStep != 1, "an 8259's initialization step is 1");
        Initialized = r.ReadBool();
        (_expectIcw3, _expectIcw4, _levelTriggered, _autoEoi) = (r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool());
        (_rotateOnAutoEoi, _specialMask, _specialFullyNested, _readIsr, _poll) = (r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool());
    }

    private int PriorityOf(int line) => (line - _highestPriority) & 7;

    private int HighestPriority(int mask)
    {
        for (int p = 0; p < 8; p++)
        {
            int line = (p + _highestPriority) & 7;
            if ((mask & (1 << line)) != 0) return line;
        }
        return -1;
    }
}
