using VirtShell.Devices;
using VirtShell.Engine.Buses;
using Xunit;

namespace VirtShell.Tests.Devices;

/// <summary>The i8042 through ports 0x60/0x64, as a BIOS and Linux's i8042 and atkbd drivers drive it.</summary>
public sealed class I8042Tests
{
    private readonly RecordingInterrupts _irq = new();
    private readonly IoPortBus _ports = new();
    private int _resets;

    public I8042Tests() => new I8042(_irq, () => _resets++).Register(_ports);

    private byte Status => (byte)_ports.Read(0x64, 1);

    private void Command(byte command) => _ports.Write(0x64, 1, command);

    private void Data(byte value) => _ports.Write(0x60, 1, value);

    /// <summary>Reads the output buffer after checking it is full, as a driver polling the status does.</summary>
    private byte Read()
    {
        Assert.True((Status & 0x01) != 0, "the output buffer is empty");
        return (byte)_ports.Read(0x60, 1);
    }

    private byte CommandWithAnswer(byte command)
    {
        Command(command);
        return Read();
    }

    [Fact]
    public void AtPowerOn_NothingWaits_TheKeyboardIsUnlocked_AndPostPassed()
    {
        Assert.Equal(0x14, Status & 0x17); // not inhibited, system flag; output and input buffers empty
        Assert.Equal(I8042.BiosConfig, CommandWithAnswer(0x20));
    }

    [Fact]
    public void SelfTestAnswers55_AndTheInterfaceTestsAnswer00()
    {
        Assert.Equal(0x55, CommandWithAnswer(0xAA));
        Assert.Equal(0x00, CommandWithAnswer(0xAB));
        Assert.Equal(0x00, CommandWithAnswer(0xA9));
        Assert.Equal(0, Status & 0x01);
    }

    [Fact]
    public void TheCommandByte_IsWrittenThrough60_AndReadBack()
    {
        Command(0x60);
        Data(0x30);
        Assert.Equal(0, Status & 0x08); // the last write was data, not a command
        Assert.Equal(0x30, CommandWithAnswer(0x20));
        Assert.Equal(0, Status & 0x04); // the system flag follows the command byte
        Command(0xAE); // enable the keyboard: clears bit 4
        Command(0xA8); // enable aux: clears bit 5
        Assert.Equal(0x00, CommandWithAnswer(0x20));
    }

    [Fact]
    public void KeyboardReset_AnswersAckThenSelfTestPassed_EachByteWithAnIrq1Edge()
    {
        Data(0xFF);
        Assert.True(_irq.Level(1));
        Assert.Equal(0xFA, Read());
        Assert.Equal(0xAA, Read());
        Assert.False(_irq.Level(1));
        Assert.Equal(2, _irq.RisingEdges(1));
    }

    [Fact]
    public void Identify_AnswersAb83_OrAb41WhenTranslating()
    {
        Data(0xF2);
        Assert.Equal([0xFA, 0xAB, 0x41], new[] { Read(), Read(), Read() });
        Command(0x60);
        Data(0x05); // translation off
        Data(0xF2);
        Assert.Equal([0xFA, 0xAB, 0x83], new[] { Read(), Read(), Read() });
    }

    [Fact]
    public void KeyboardCommandsWithArguments_AreAcknowledgedTwice_AndTheScanCodeSetIsReported()
    {
        Data(0xED);
        Assert.Equal(0xFA, Read());
        Data(0x07); // LEDs
        Assert.Equal(0xFA, Read());
        Data(0xF0);
        Assert.Equal(0xFA, Read());
        Data(0x00); // which set?
        Assert.Equal([0xFA, 0x41], new[] { Read(), Read() }); // set 2, translated
        Data(0xEE);
        Assert.Equal(0xEE, Read());
        Data(0x12); // not a command
        Assert.Equal(0xFE, Read());
    }

    [Fact]
    public void NoIrq1_WhileTheCommandByteDisablesIt()
    {
        Command(0x60);
        Data(0x44); // translation and system flag, no interrupts
        Data(0xF4);
        Assert.False(_irq.Level(1));
        Assert.Equal(0xFA, Read());
    }

    [Fact]
    public void KeyboardBytes_WaitWhileItsPortIsDisabled()
    {
        Command(0xAD);
        Data(0xF4);
        Assert.Equal(0, Status & 0x01);
        Command(0xAE);
        Assert.Equal(0xFA, Read());
    }

    [Fact]
    public void Pulse0xFE_ResetsTheMachine_ButOtherPulsesDoNot()
    {
        Command(0xFF);
        Command(0xFD);
        Assert.Equal(0, _resets);
        Command(0xFE);
        Assert.Equal(1, _resets);
    }

    [Fact]
    public void TheOutputPort_ReadsResetAndA20High_AndWritingBit0LowResets()
    {
        Assert.Equal(0x03, CommandWithAnswer(0xD0) & 0x03);
        Command(0xD1);
        Data(0xDF); // A20 on, reset line high
        Assert.Equal(0, _resets);
        Command(0xD1);
        Data(0xDE);
        Assert.Equal(1, _resets);
    }

    [Fact]
    public void AuxLoopback_ComesBackAsAuxData_WithIrq12WhenEnabled()
    {
        Command(0x60);
        Data(0x47); // keyboard and aux interrupts
        Command(0xD3);
        Data(0x5A);
        Assert.Equal(0x21, Status & 0x21);
        Assert.True(_irq.Level(12));
        Assert.False(_irq.Level(1));
        Assert.Equal(0x5A, Read());
        Assert.False(_irq.Level(12));
    }

    [Fact]
    public void AByteForTheAuxDevice_FindsNoDevice()
    {
        Command(0xD4);
        Data(0xFF); // mouse reset
        Assert.Equal(0x61, Status & 0x61); // full, aux data, timeout
        Assert.Equal(0xFE, Read());
        Assert.Equal(0, Status & 0x41);
    }

    [Fact]
    public void WriteKeyboardBuffer_EchoesAsKeyboardData()
    {
        Command(0xD2);
        Data(0x1C);
        Assert.Equal(0x01, Status & 0x21);
        Assert.Equal(0x1C, Read());
    }

    /// <summary>Linux's i8042_controller_check and _init: flush, read the command byte twice, write it back, flush.</summary>
    [Fact]
    public void LinuxFindsTheController()
    {
        for (int i = 0; i < 16 && (Status & 0x01) != 0; i++) _ports.Read(0x60, 1);
        Assert.Equal(0, Status & 0x01); // "i8042: No controller found" otherwise
        byte ctr = CommandWithAnswer(0x20);
        Assert.Equal(ctr, CommandWithAnswer(0x20));
        Assert.NotEqual(0, Status & 0x10); // no keylock
        ctr = (byte)((ctr | 0x10) & ~0x01); // keyboard disabled, its interrupt off
        Command(0x60);
        Data(ctr);
        Assert.Equal(ctr, CommandWithAnswer(0x20));
        // i8042_set_mux_mode: the third loopback byte coming back unchanged means no active multiplexing.
        foreach (byte b in new byte[] { 0xF0, 0x56, 0xA4 })
        {
            Command(0xD3);
            Data(b);
            Assert.Equal(0x20, Status & 0x20);
            Assert.Equal(b, Read());
        }
    }
}
