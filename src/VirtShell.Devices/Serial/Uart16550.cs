using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Interrupts;

namespace VirtShell.Devices;

/// <summary>
/// A 16550A UART wired to the machine's console. Transmission is instant: a byte written to THR is on the console
/// before the OUT returns, so THR (and the transmit FIFO) is always empty. Received bytes come from the console's
/// input queue into the 16-byte receive FIFO as it has room.
/// </summary>
/// <remarks>
/// The vCPU thread reads and writes registers while console input arrives on whatever thread sent it, so every
/// entry point takes the UART's lock. Bytes go to the console outside the lock: the console's line handlers run
/// hooks, which may send input back to this UART.
/// </remarks>
public sealed class Uart16550 : IPortDevice, IDisposable
{
    public const int PortCount = 8;
    private const int FifoSize = 16;

    // Register offsets (DLAB selects the divisor latch at 0 and 1).
    private const int Data = 0, InterruptEnable = 1, InterruptId = 2, LineControl = 3, ModemControl = 4,
        LineStatus = 5, ModemStatus = 6, Scratch = 7;

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

    private readonly object _lock = new();
    private readonly ushort _basePort;
    private readonly int _irq;
    private readonly IInterruptController _interrupts;
    private readonly ConsoleChannel? _console;
    private readonly ConsoleChannel? _input;
    private readonly Queue<byte> _receive = new();
    private byte _ier, _lcr, _mcr, _lineErrors, _msrDeltas, _scratch;
    private ushort _divisor = 12; // 9600 baud, what a PC BIOS leaves behind
    private bool _fifoEnabled;
    private int _triggerLevel = 1;
    private bool _transmitEmptyPending;
    private bool _irqLevel;

    /// <param name="console">Where the guest's output goes, and its input comes from.</param>
    /// <param name="outputOnly">
    /// Writes to the console but never reads it: an early console, whose input belongs to the console the guest
    /// switches to later (a kernel's earlyprintk raises DTR/RTS too, and would take the keystrokes meant for hvc0).
    /// </param>
    public Uart16550(ushort basePort, int irq, IInterruptController interrupts, ConsoleChannel? console, bool outputOnly = false)
    {
        if (basePort > 0x10000 - PortCount) throw new ArgumentOutOfRangeException(nameof(basePort), basePort, "a UART needs 8 ports below 0x10000");
        if ((uint)irq > 15) throw new ArgumentOutOfRangeException(nameof(irq), irq, "a PC IRQ is 0..15");
        _basePort = basePort;
        _irq = irq;
        _interrupts = interrupts;
        _console = console;
        _input = outputOnly ? null : console;
        if (_input != null)
        {
            _input.InputAvailable += OnInputAvailable;
            OnInputAvailable();
        }
    }

    public uint ReadPort(ushort port, int size)
    {
        lock (_lock)
        {
            uint value = ByteWideAccess.Read(port, size, _basePort, PortCount, ReadRegister);
            UpdateInterrupt();
            return value;
        }
    }

    public void WritePort(ushort port, int size, uint value)
    {
        var sent = new List<byte>(1);
        lock (_lock)
        {
            ByteWideAccess.Write(port, size, value, _basePort, PortCount, (offset, b) => WriteRegister(offset, b, sent));
            UpdateInterrupt();
        }
        if (_console != null) foreach (var b in sent) _console.WriteFromGuest(b);
    }

    public void Dispose()
    {
        if (_input != null) _input.InputAvailable -= OnInputAvailable;
    }

    private bool Dlab => (_lcr & LcrDlab) != 0;
    private bool Loopback => (_mcr & McrLoop) != 0;
    private int ReceiveCapacity => _fifoEnabled ? FifoSize : 1;

    private byte ReadRegister(int offset)
    {
        switch (offset)
        {
            case Data when Dlab:
                return (byte)_divisor;
            case Data:
                byte b = _receive.TryDequeue(out var received) ? received : (byte)0;
                PullInput();
                return b;
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

    private void WriteRegister(int offset, byte value, List<byte> sent)
    {
        switch (offset)
        {
            case Data when Dlab:
                _divisor = (ushort)(_divisor & 0xFF00 | value);
                break;
            case Data:
                if (Loopback) Receive(value);
                else sent.Add(value);
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
                byte after = ModemLines();
                NoteModemChange(before, after);
                PullInput(); // raising DTR/RTS or leaving loopback connects the console
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
        PullInput();
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

    private void OnInputAvailable()
    {
        lock (_lock)
        {
            PullInput();
            UpdateInterrupt();
        }
    }

    /// <summary>
    /// Moves console input into the receive FIFO while it has room. Console input waits in the console's queue
    /// otherwise, and also until the guest raises DTR or RTS: the host terminal honours that handshake, so what is
    /// typed before the guest has set its UART up (and would clear the FIFO doing so) is not lost.
    /// </summary>
    private void PullInput()
    {
        if (_input == null || Loopback || (_mcr & (McrDtr | McrRts)) == 0) return;
        while (_receive.Count < ReceiveCapacity && _input.TryReadInput(out var b)) _receive.Enqueue(b);
    }

    private byte CurrentInterrupt()
    {
        if ((_ier & IerLineStatus) != 0 && _lineErrors != 0) return IirLineStatus;
        if ((_ier & IerReceived) != 0 && _receive.Count > 0)
        {
            if (_receive.Count >= _triggerLevel) return IirReceived;
            // Below the trigger level a real FIFO waits four character times before the timeout interrupt. Bytes here
            // arrive all at once, so when no more are waiting that time has, in effect, passed.
            if (_input == null || Loopback || _input.PendingInput == 0) return IirTimeout;
        }
        if ((_ier & IerTransmitEmpty) != 0 && _transmitEmptyPending) return IirTransmitEmpty;
        if ((_ier & IerModemStatus) != 0 && _msrDeltas != 0) return IirModemStatus;
        return IirNone;
    }

    /// <summary>On a PC the UART's INT reaches the PIC only through the OUT2 gate in MCR.</summary>
    private void UpdateInterrupt()
    {
        bool level = CurrentInterrupt() != IirNone && (_mcr & McrOut2) != 0;
        // Restated on every change, not only on transitions: the PIC may have been reset (ICW1) under a high line.
        if (level || _irqLevel) _interrupts.SetIrq(_irq, level);
        _irqLevel = level;
    }
}
