using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// The register model of a 16550A UART: what the guest sees at its eight ports, and nothing of the host. Transmission
/// is instant: a byte written to THR waits only until the wiring takes it at the end of the same OUT, so THR (and the
/// transmit FIFO) is always empty. Received bytes are put into the 16-byte receive FIFO by the wiring as it has room.
/// </summary>
/// <remarks>Not thread-safe: <see cref="Uart16550"/> serialises every call.</remarks>
public sealed class Uart16550Registers
{
    public const int PortCount = 8;
    private const int FifoSize = 16;

    // Register offsets (DLAB selects the divisor latch at 0 and 1).
    private const int Data = 0, InterruptEnable = 1, InterruptId = 2, LineControl = 3, ModemControl = 4,
        LineStatus = 5, ModemStatus = 6;

    private const byte IerReceived = 0x01, IerTransmitEmpty = 0x02, IerLineStatus = 0x04, IerModemStatus = 0x08;
    private const byte LcrDlab = 0x80;
    private const byte McrDtr = 0x01, McrRts = 0x02, McrOut1 = 0x04, McrOut2 = 0x08, McrLoop = 0x10;
    private const byte LsrDataReady = 0x01, LsrOverrun = 0x02, LsrThrEmpty = 0x20,
        LsrTransmitterEmpty = 0x40, LsrFifoError = 0x80;
    private const byte MsrCts = 0x10, MsrDsr = 0x20, MsrRi = 0x40, MsrDcd = 0x80;
    private const byte FcrEnable = 0x01, FcrClearReceive = 0x02;

    // IIR identification codes, highest priority first (datasheet table 4).
    private const byte IirNone = 0x01, IirLineStatus = 0x06, IirReceived = 0x04, IirTimeout = 0x0C,
        IirTransmitEmpty = 0x02, IirModemStatus = 0x00, IirFifosEnabled = 0xC0;

    private static readonly int[] TriggerLevels = [1, 4, 8, 14];

    private readonly Queue<byte> _receive = new();
    // A 4-byte OUT can send at most four bytes before the wiring takes them.
    private readonly byte[] _transmitted = new byte[4];
    private int _transmittedCount;
    private byte _ier, _lcr, _mcr, _lineErrors, _msrDeltas, _scratch;
    private ushort _divisor = 12; // 9600 baud, what a PC BIOS leaves behind
    private bool _fifoEnabled;
    private int _triggerLevel = 1;
    private bool _transmitEmptyPending;

    /// <summary>Whether more input waits on the line than the FIFO took; while it does, no timeout interrupt is due.</summary>
    public bool MoreInputWaiting { get; set; }

    /// <summary>
    /// Room in the receive FIFO for bytes from the line. There is none until the guest raises DTR or RTS, nor in
    /// loopback: the host terminal honours that handshake, so what is typed before the guest has set its UART up (and
    /// would clear the FIFO doing so) waits on the line instead of being lost.
    /// </summary>
    public int ReceiveRoom => Loopback || (_mcr & (McrDtr | McrRts)) == 0 ? 0 : ReceiveCapacity - _receive.Count;

    /// <summary>The UART's INT output as it reaches the PIC on a PC: only through the OUT2 gate in MCR.</summary>
    public bool InterruptLine => CurrentInterrupt() != IirNone && (_mcr & McrOut2) != 0;

    private bool Dlab => (_lcr & LcrDlab) != 0;
    private bool Loopback => (_mcr & McrLoop) != 0;
    private int ReceiveCapacity => _fifoEnabled ? FifoSize : 1;

    /// <summary>A byte from the line, within <see cref="ReceiveRoom"/>.</summary>
    /// <summary>The registers and the receive FIFO; transmitted bytes were handed to the console already.</summary>
    public void SaveState(StateWriter w)
    {
        w.WriteBytes(_receive.ToArray());
        foreach (byte b in (ReadOnlySpan<byte>)[_ier, _lcr, _mcr, _lineErrors, _msrDeltas, _scratch]) w.WriteByte(b);
        w.WriteUInt16(_divisor);
        w.WriteBool(_fifoEnabled);
        w.WriteInt32(_triggerLevel);
        w.WriteBool(_transmitEmptyPending);
    }

    public void RestoreState(StateReader r)
    {
        var fifo = r.ReadBytes(FifoSize, "the receive FIFO").ToArray();
        (_ier, _lcr, _mcr, _lineErrors, _msrDeltas, _scratch) = (r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte());
        r.Check((_ier & ~0x0F) == 0 && (_mcr & ~0x1F) == 0, "the UART's IER or MCR has bits that cannot be set");
        _divisor = r.ReadUInt16();
        _fifoEnabled = r.ReadBool();
        _triggerLevel = r.ReadInt32(1, 14, "the UART's trigger level");
        r.Check(Array.IndexOf(TriggerLevels, _triggerLevel) >= 0, $"the UART's trigger level {_triggerLevel} does not exist");
        _transmitEmptyPending = r.ReadBool();
        r.Check(fifo.Length <= ReceiveCapacity, "the receive FIFO holds more than it can");
        _receive.Clear();
        foreach (byte b in fifo) _receive.Enqueue(b);
        _transmittedCount = 0;
    }

    public void ReceiveFromLine(byte value) => _receive.Enqueue(value);

    /// <summary>Moves the bytes the guest sent since the last call into <paramref name="line"/>; returns how many.</summary>
    public int TakeTransmitted(Span<byte> line)
    {
        int count = _transmittedCount;
        _transmitted.AsSpan(0, count).CopyTo(line);
        _transmittedCount = 0;
        return count;
    }

    public byte Read(int offset)
    {
        switch (offset)
        {
            case Data when Dlab:
                return (byte)_divisor;
            case Data:
                return _receive.TryDequeue(out var received) ? received : (byte)0;
            case InterruptEnable when Dlab:
                return (byte)(_divisor >> 8);
            case InterruptEnable:
                return _ier;
            case InterruptId:
                byte id = CurrentInterrupt();
                // Reading IIR while it reports THR empty is what acknowledges that interrupt (datasheet).
                if (id == IirTransmitEmpty) _transmitEmptyPending = false;
                return (byte)(id | (_fifoEnabled ? IirFifosEnabled : 0));
            case LineControl:
                return _lcr;
            case ModemControl:
                return _mcr;
            case LineStatus:
                byte lsr = (byte)(LsrThrEmpty | LsrTransmitterEmpty | _lineErrors | (_receive.Count > 0 ? LsrDataReady : 0));
                if (_fifoEnabled && _lineErrors != 0) lsr |= LsrFifoError;
                _lineErrors = 0;
                return lsr;
            case ModemStatus:
                byte msr = (byte)(ModemLines() | _msrDeltas);
                _msrDeltas = 0;
                return msr;
            default:
                return _scratch;
        }
    }

    public void Write(int offset, byte value)
    {
        switch (offset)
        {
            case Data when Dlab:
                _divisor = (ushort)(_divisor & 0xFF00 | value);
                break;
            case Data:
                if (Loopback) Receive(value);
                else _transmitted[_transmittedCount++] = value;
                _transmitEmptyPending = true; // sent already: THR is empty again
                break;
            case InterruptEnable when Dlab:
                _divisor = (ushort)(_divisor & 0x00FF | value << 8);
                break;
            case InterruptEnable:
                // Enabling the THR-empty interrupt while THR is empty raises it at once; drivers probe for this.
                if ((value & IerTransmitEmpty) != 0 && (_ier & IerTransmitEmpty) == 0) _transmitEmptyPending = true;
                _ier = (byte)(value & 0x0F);
                break;
            case InterruptId:
                WriteFifoControl(value);
                break;
            case LineControl:
                _lcr = value;
                break;
            case ModemControl:
                byte before = ModemLines();
                _mcr = (byte)(value & 0x1F);
                NoteModemChange(before, ModemLines());
                break;
            case LineStatus:
            case ModemStatus:
                break; // read-only on the 16550A
            default:
                _scratch = value;
                break;
        }
    }

    private void WriteFifoControl(byte value)
    {
        bool enable = (value & FcrEnable) != 0;
        // Changing the FIFO enable clears the FIFOs, as does the clear bit; the transmit side is always empty here.
        if (enable != _fifoEnabled || (value & FcrClearReceive) != 0) _receive.Clear();
        _fifoEnabled = enable;
        _triggerLevel = enable ? TriggerLevels[value >> 6] : 1;
    }

    /// <summary>The modem inputs: looped back from MCR in loopback, otherwise a terminal that is always there.</summary>
    private byte ModemLines()
    {
        if (!Loopback) return MsrCts | MsrDsr | MsrDcd;
        byte lines = 0;
        if ((_mcr & McrRts) != 0) lines |= MsrCts;
        if ((_mcr & McrDtr) != 0) lines |= MsrDsr;
        if ((_mcr & McrOut1) != 0) lines |= MsrRi;
        if ((_mcr & McrOut2) != 0) lines |= MsrDcd;
        return lines;
    }

    private void NoteModemChange(byte before, byte after)
    {
        byte changed = (byte)(before ^ after);
        if ((changed & MsrCts) != 0) _msrDeltas |= 0x01;
        if ((changed & MsrDsr) != 0) _msrDeltas |= 0x02;
        if ((before & MsrRi) != 0 && (after & MsrRi) == 0) _msrDeltas |= 0x04; // TERI: trailing edge of RI only
        if ((changed & MsrDcd) != 0) _msrDeltas |= 0x08;
    }

    private void Receive(byte value)
    {
        if (_receive.Count < ReceiveCapacity) _receive.Enqueue(value);
        else _lineErrors |= LsrOverrun; // the new byte is lost, as in the chip
    }

    private byte CurrentInterrupt()
    {
        if ((_ier & IerLineStatus) != 0 && _lineErrors != 0) return IirLineStatus;
        if ((_ier & IerReceived) != 0 && _receive.Count > 0)
        {
            if (_receive.Count >= _triggerLevel) return IirReceived;
            // Below the trigger level a real FIFO waits four character times before the timeout interrupt. Bytes here
            // arrive all at once, so when no more are waiting that time has, in effect, passed.
            if (Loopback || !MoreInputWaiting) return IirTimeout;
        }
        if ((_ier & IerTransmitEmpty) != 0 && _transmitEmptyPending) return IirTransmitEmpty;
        if ((_ier & IerModemStatus) != 0 && _msrDeltas != 0) return IirModemStatus;
        return IirNone;
    }
}
