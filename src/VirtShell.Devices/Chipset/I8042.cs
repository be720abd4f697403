using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// The 8042 keyboard controller at ports 0x60 (data) and 0x64 (status and commands), with a <see cref="Ps2Keyboard"/>
/// on its first port and nothing on the second (aux, mouse) port. It answers the controller commands a BIOS or an OS
/// driver uses: read and write the command byte, self-test (0xAA → 0x55), interface tests, read and write the output
/// port, enable and disable each port, aux loopback, and the reset pulse. The output buffer raises IRQ 1 (keyboard
/// data) or IRQ 12 (aux data) while the command byte enables it; the line drops when the guest reads the byte, so an
/// edge-triggered 8259 sees an edge per byte.
/// </summary>
/// <remarks>
/// Resetting the CPU through the controller — pulse command 0xFE, or an output-port write with bit 0 clear — calls
/// the reset action. Commands complete at once, so the input buffer is never full. A byte sent to the aux device
/// (0xD4) finds none: the controller answers 0xFE with the timeout bit, as a PS/2 controller with no mouse
/// plugged in does. The A20 gate bit of the output port is stored: A20 stays enabled.
/// </remarks>
public sealed class I8042 : IPortDevice, IDeviceState
{
    public const int KeyboardIrq = 1, AuxIrq = 12;

    public const byte StatusOutputFull = 0x01, StatusSystem = 0x04, StatusCommand = 0x08, StatusNotInhibited = 0x10,
        StatusAuxData = 0x20, StatusTimeout = 0x40;
    public const byte ConfigKeyboardInterrupt = 0x01, ConfigAuxInterrupt = 0x02, ConfigSystem = 0x04,
        ConfigKeyboardDisabled = 0x10, ConfigAuxDisabled = 0x20, ConfigTranslate = 0x40;
    public const byte OutputResetLine = 0x01, OutputA20 = 0x02, OutputKeyboardFull = 0x10, OutputAuxFull = 0x20;

    /// <summary>What a BIOS leaves: translation on, aux port off, POST passed, keyboard interrupt on.</summary>
    public const byte BiosConfig = ConfigTranslate | ConfigAuxDisabled | ConfigSystem | ConfigKeyboardInterrupt;

    private const byte ReadRamFirst = 0x20, WriteRamFirst = 0x60, RamLast = 0x1F, DisableAux = 0xA7, EnableAux = 0xA8,
        TestAux = 0xA9, SelfTest = 0xAA, TestKeyboard = 0xAB, DisableKeyboard = 0xAD, EnableKeyboard = 0xAE,
        ReadInputPort = 0xC0, ReadOutputPort = 0xD0, WriteOutputPort = 0xD1, WriteKeyboardBuffer = 0xD2,
        WriteAuxBuffer = 0xD3, WriteAux = 0xD4, DisableA20 = 0xDD, EnableA20 = 0xDF, ReadTestInputs = 0xE0, PulseFirst = 0xF0;
    private const byte SelfTestPassed = 0x55, InterfaceOk = 0x00, NoAuxDevice = 0xFE;
    /// <summary>Input port: bit 7 set means the keyboard is not inhibited by a keylock.</summary>
    private const byte InputPort = 0x80;

    private readonly object _lock = new();
    private readonly InterruptLine _keyboardIrq, _auxIrq;
    private readonly Action _reset;
    private readonly Ps2Keyboard _keyboard = new();
    private readonly byte[] _ram = new byte[RamLast + 1];   // byte 0 is the command byte
    private readonly Queue<OutputByte> _controllerOutput = new();
    private OutputByte? _output;
    private byte _lastRead;
    private byte _outputPort = 0xCC | OutputA20 | OutputResetLine; // bits 2, 3, 6, 7 float high
    private byte _awaitingData;   // the command whose data byte the next port 0x60 write is, or 0
    private bool _lastWriteWasCommand;

    private readonly record struct OutputByte(byte Value, bool Aux, bool Timeout = false);

    /// <param name="reset">Called when the guest pulses the CPU's reset line.</param>
    public I8042(IInterruptController irq, Action reset)
    {
        _keyboardIrq = irq.Connect(KeyboardIrq);
        _auxIrq = irq.Connect(AuxIrq);
        _reset = reset;
        _ram[0] = BiosConfig;
    }

    public void Register(IoPortBus ports)
    {
        ports.Register(PcChipset.KeyboardData, this);
        ports.Register(PcChipset.KeyboardCommand, this);
    }

    private byte Config => _ram[0];

    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            _keyboard.SaveState(writer);
            writer.WriteBytes(_ram);
            writer.WriteInt32(_controllerOutput.Count);
            foreach (var o in _controllerOutput.Prepend(_output ?? default))
            {
                writer.WriteByte(o.Value);
                writer.WriteBool(o.Aux);
                writer.WriteBool(o.Timeout);
            }
            writer.WriteBool(_output != null);
            foreach (byte b in (ReadOnlySpan<byte>)[_lastRead, _outputPort, _awaitingData]) writer.WriteByte(b);
            writer.WriteBool(_lastWriteWasCommand);
            writer.WriteBool(_keyboardIrq.Asserted);
            writer.WriteBool(_auxIrq.Asserted);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_lock)
        {
            _keyboard.RestoreState(reader);
            var ram = reader.ReadBytes(_ram.Length, "the controller's RAM");
            reader.Check(ram.Length == _ram.Length, "the controller's RAM has the wrong size");
            int queued = reader.ReadInt32(0, 64, "the controller's output queue");
            var bytes = new OutputByte[queued + 1];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = new OutputByte(reader.ReadByte(), reader.ReadBool(), reader.ReadBool());
            bool full = reader.ReadBool();
            (_lastRead, _outputPort, _awaitingData) = (reader.ReadByte(), reader.ReadByte(), reader.ReadByte());
            _lastWriteWasCommand = reader.ReadBool();
            _keyboardIrq.RestoreLevel(reader.ReadBool());
            _auxIrq.RestoreLevel(reader.ReadBool());
            ram.CopyTo(_ram);
            _output = full ? bytes[0] : null;
            _controllerOutput.Clear();
            foreach (var o in bytes.Skip(1)) _controllerOutput.Enqueue(o);
        }
    }

    public uint ReadPort(ushort port, int size)
    {
        lock (_lock)
            return ByteWideAccess.Read(port, size, port, 1, _ => port == PcChipset.KeyboardData.Start ? ReadData() : Status());
    }

    public void WritePort(ushort port, int size, uint value)
    {
        lock (_lock)
            ByteWideAccess.Write(port, size, value, port, 1, (_, b) =>
            {
                if (port == PcChipset.KeyboardData.Start) WriteData(b);
                else WriteCommand(b);
                Refill();
            });
    }

    private byte Status()
    {
        Refill();
        int status = StatusNotInhibited | (Config & ConfigSystem) | (_lastWriteWasCommand ? StatusCommand : 0);
        if (_output is { } o)
            status |= StatusOutputFull | (o.Aux ? StatusAuxData : 0) | (o.Timeout ? StatusTimeout : 0);
        return (byte)status;
    }

    /// <summary>Takes the output buffer's byte; an empty buffer reads its last byte again, as the chip does.</summary>
    private byte ReadData()
    {
        if (_output is { } o)
        {
            _lastRead = o.Value;
            _output = null;
            UpdateLines(); // the line falls before the next byte raises it again: one edge per byte
        }
        Refill();
        return _lastRead;
    }

    private void WriteData(byte value)
    {
        _lastWriteWasCommand = false;
        byte command = _awaitingData;
        _awaitingData = 0;
        switch (command)
        {
            case 0:
                _keyboard.Write(value, (Config & ConfigTranslate) != 0);
                break;
            case >= WriteRamFirst and <= WriteRamFirst + RamLast:
                _ram[command - WriteRamFirst] = value;
                break;
            case WriteOutputPort:
                _outputPort = value;
                if ((value & OutputResetLine) == 0) _reset();
                break;
            case WriteKeyboardBuffer:
                _controllerOutput.Enqueue(new OutputByte(value, Aux: false));
                break;
            case WriteAuxBuffer:
                _controllerOutput.Enqueue(new OutputByte(value, Aux: true));
                break;
            case WriteAux:
                _controllerOutput.Enqueue(new OutputByte(NoAuxDevice, Aux: true, Timeout: true));
                break;
        }
    }

    private void WriteCommand(byte command)
    {
        _lastWriteWasCommand = true;
        _awaitingData = 0;
        switch (command)
        {
            case >= ReadRamFirst and <= ReadRamFirst + RamLast:
                Respond(_ram[command - ReadRamFirst]);
                break;
            case >= WriteRamFirst and <= WriteRamFirst + RamLast:
            case WriteOutputPort or WriteKeyboardBuffer or WriteAuxBuffer or WriteAux:
                _awaitingData = command;
                break;
            case DisableAux: _ram[0] |= ConfigAuxDisabled; break;
            case EnableAux: _ram[0] &= unchecked((byte)~ConfigAuxDisabled); break;
            case DisableKeyboard: _ram[0] |= ConfigKeyboardDisabled; break;
            case EnableKeyboard: _ram[0] &= unchecked((byte)~ConfigKeyboardDisabled); break;
            case SelfTest:
                _ram[0] |= ConfigSystem;
                Respond(SelfTestPassed);
                break;
            case TestAux or TestKeyboard:
                Respond(InterfaceOk);
                break;
            case ReadInputPort:
                Respond(InputPort);
                break;
            case ReadOutputPort:
                Respond((byte)(_outputPort & ~(OutputKeyboardFull | OutputAuxFull)
                    | (_output is { Aux: false } ? OutputKeyboardFull : 0) | (_output is { Aux: true } ? OutputAuxFull : 0)));
                break;
            case DisableA20: _outputPort &= unchecked((byte)~OutputA20); break;
            case EnableA20: _outputPort |= OutputA20; break;
            case ReadTestInputs:
                Respond(0);
                break;
            case >= PulseFirst:
                // Bits 0-3 clear are pulsed low for 6 µs; bit 0 is the CPU's reset line (0xFE is the usual reboot).
                if ((command & OutputResetLine) == 0) _reset();
                break;
        }
    }

    private void Respond(byte value) => _controllerOutput.Enqueue(new OutputByte(value, Aux: false));

    /// <summary>Fills an empty output buffer: the controller's own bytes first, then the keyboard's while its port is enabled.</summary>
    private void Refill()
    {
        if (_output == null)
        {
            if (_controllerOutput.TryDequeue(out var next)) _output = next;
            else if ((Config & ConfigKeyboardDisabled) == 0 && _keyboard.TryRead(out byte key)) _output = new OutputByte(key, Aux: false);
        }
        UpdateLines();
    }

    private void UpdateLines()
    {
        bool keyboard = _output is { Aux: false } && (Config & ConfigKeyboardInterrupt) != 0;
        bool aux = _output is { Aux: true } && (Config & ConfigAuxInterrupt) != 0;
        if (keyboard != _keyboardIrq.Asserted) _keyboardIrq.Set(keyboard);
        if (aux != _auxIrq.Asserted) _auxIrq.Set(aux);
    }
}
