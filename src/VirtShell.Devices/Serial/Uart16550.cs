using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// A 16550A UART (<see cref="Uart16550Registers"/>) wired to the port bus, an IRQ line and the machine's console: what
/// the guest sends goes to the console, and the console's input queue is the line it receives from. On a board
/// without ports (RISC-V virt) the same registers sit on the MMIO bus, one byte apart from <see cref="MmioBase"/>.
/// </summary>
/// <remarks>
/// The vCPU thread reads and writes registers while console input arrives on whatever thread sent it, so every
/// entry point takes the UART's lock. Bytes go to the console outside the lock: the console's line handlers run
/// hooks, which may send input back to this UART.
/// </remarks>
public sealed class Uart16550 : IPortDevice, IMmioDevice, IDeviceState, IDisposable
{
    public const int PortCount = Uart16550Registers.PortCount;

    private readonly object _lock = new();
    private readonly Uart16550Registers _registers = new();
    private readonly Func<int, byte> _readRegister;
    private readonly Action<int, byte> _writeRegister;
    private readonly ushort _basePort;
    private readonly InterruptLine _irq;
    private readonly ConsoleChannel? _console;
    private readonly ConsoleChannel? _input;

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
        _irq = interrupts.Connect(irq);
        _console = console;
        _input = outputOnly ? null : console;
        // Made once, so that an IN or OUT allocates nothing.
        _readRegister = _registers.Read;
        _writeRegister = _registers.Write;
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
            uint value = ByteWideAccess.Read(port, size, _basePort, PortCount, _readRegister);
            Settle();
            return value;
        }
    }

    public void WritePort(ushort port, int size, uint value)
    {
        Span<byte> sent = stackalloc byte[4];
        int count;
        lock (_lock)
        {
            ByteWideAccess.Write(port, size, value, _basePort, PortCount, _writeRegister);
            count = _registers.TakeTransmitted(sent);
            Settle();
        }
        if (_console != null && count > 0) _console.WriteFromGuest(sent[..count]);
    }

    /// <summary>The registers; console input still queued is the console's, and reaches the FIFO as it would have.</summary>
    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            _registers.SaveState(writer);
            writer.WriteBool(_irq.Asserted);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_lock)
        {
            _registers.RestoreState(reader);
            _irq.RestoreLevel(reader.ReadBool());
            Settle();
        }
    }
    /// <summary>Where the registers are mapped on the MMIO bus, for a board that maps them there.</summary>
    public ulong MmioBase { get; init; }

    public ulong ReadMmio(ulong address, int size) => ReadPort((ushort)(_basePort + (address - MmioBase)), size);

    public void WriteMmio(ulong address, int size, ulong value) => WritePort((ushort)(_basePort + (address - MmioBase)), size, (uint)value);

    public void Dispose()
    {
        if (_input != null) _input.InputAvailable -= OnInputAvailable;
    }

    private void OnInputAvailable()
    {
        lock (_lock) Settle();
    }

    /// <summary>
    /// After every access and every arrival: moves console input into the FIFO as it has room (a read of the data
    /// register, raising DTR/RTS or leaving loopback makes room), then restates the IRQ line.
    /// </summary>
    private void Settle()
    {
        if (_input != null)
        {
            while (_registers.ReceiveRoom > 0 && _input.TryReadInput(out var b)) _registers.ReceiveFromLine(b);
            _registers.MoreInputWaiting = _input.PendingInput > 0;
        }
        _irq.Set(_registers.InterruptLine);
    }
}
