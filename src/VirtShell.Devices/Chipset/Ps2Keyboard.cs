using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// The keyboard on the i8042's first port, as far as a driver probing it sees: it answers every PS/2 keyboard
/// command (reset, identify, LEDs, typematic rate, scan code set, enable/disable, echo, resend). There is no host
/// keyboard behind it, so it never sends a scan code. Not thread-safe; <see cref="I8042"/> serialises calls.
/// </summary>
internal sealed class Ps2Keyboard
{
    public const byte Ack = 0xFA, Resend = 0xFE, SelfTestPassed = 0xAA, Echo = 0xEE, IdFirst = 0xAB, IdSecond = 0x83;

    private const byte SetLeds = 0xED, EchoCommand = 0xEE, ScanCodeSet = 0xF0, Identify = 0xF2, SetTypematic = 0xF3,
        ResendCommand = 0xFE, Reset = 0xFF;

    private readonly Queue<byte> _output = new();
    private byte _awaitingArgument;     // the command whose argument byte comes next, or 0
    private int _scanCodeSet = 2;
    private byte _lastSent = Ack;

    public void SaveState(StateWriter w)
    {
        w.WriteBytes(_output.ToArray());
        w.WriteByte(_awaitingArgument);
        w.WriteInt32(_scanCodeSet);
        w.WriteByte(_lastSent);
    }

    public void RestoreState(StateReader r)
    {
        var output = r.ReadBytes(64, "the keyboard's output queue").ToArray();
        _awaitingArgument = r.ReadByte();
        _scanCodeSet = r.ReadInt32(1, 3, "the keyboard's scan code set");
        _lastSent = r.ReadByte();
        _output.Clear();
        foreach (byte b in output) _output.Enqueue(b);
    }

    public bool TryRead(out byte value)
    {
        if (!_output.TryDequeue(out value)) return false;
        _lastSent = value;
        return true;
    }

    /// <summary>A byte from the controller. <paramref name="translated"/>: the controller turns set 2 into set 1, so the keyboard's own answers go through that table too.</summary>
    public void Write(byte value, bool translated)
    {
        byte command = _awaitingArgument;
        _awaitingArgument = 0;
        // A byte with bit 7 set where an argument was expected is a new command (every argument is below 0x80).
        if (command != 0 && value < 0x80)
        {
            Argument(command, value, translated);
            return;
        }
        _output.Clear(); // a command discards what the keyboard had not sent yet
        switch (value)
        {
            case SetLeds or SetTypematic or ScanCodeSet:
                _awaitingArgument = value;
                Send(Ack);
                break;
            case EchoCommand:
                Send(Echo);
                break;
            case Identify:
                Send(Ack, IdFirst, Translate(IdSecond, translated));
                break;
            case ResendCommand:
                Send(_lastSent);
                break;
            case Reset:
                _scanCodeSet = 2;
                Send(Ack, SelfTestPassed);
                break;
            case >= 0xF4 and <= 0xFD: // enable, disable, defaults, set-3 key modes: nothing to change without keys
                if (value == 0xF5 || value == 0xF6) _scanCodeSet = 2;
                Send(Ack);
                break;
            default:
                Send(Resend);
                break;
        }
    }

    private void Argument(byte command, byte value, bool translated)
    {
        if (command != ScanCodeSet)
        {
            Send(Ack); // LED states and typematic rate: accepted, nothing to show them on
            return;
        }
        if (value == 0)
            Send(Ack, Translate((byte)_scanCodeSet, translated));
        else if (value <= 3)
        {
            _scanCodeSet = value;
            Send(Ack);
        }
        else
            Send(Resend);
    }

    private void Send(params ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes) _output.Enqueue(b);
    }

    /// <summary>The controller's set-2-to-set-1 translation, for the only set-2 codes this keyboard sends (0xAB passes unchanged).</summary>
    private static byte Translate(byte value, bool translated) => !translated ? value : (byte)(value switch
    {
        1 => 0x43,
        2 => 0x41,
        3 => 0x3F,
        IdSecond => 0x41,
        _ => value,
    });
}
