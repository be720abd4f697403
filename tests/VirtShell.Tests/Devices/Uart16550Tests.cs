using System.Text;
using VirtShell.Devices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using Xunit;

namespace VirtShell.Tests.Devices;

public sealed class Uart16550Tests : IDisposable
{
    private const ushort Com1 = 0x3F8;
    private const ushort Rbr = Com1, Ier = Com1 + 1, Iir = Com1 + 2, Fcr = Com1 + 2, Lcr = Com1 + 3, Mcr = Com1 + 4,
        Lsr = Com1 + 5, Msr = Com1 + 6, Scr = Com1 + 7;

    private readonly ConsoleChannel _console = new(null);
    private readonly RecordingInterrupts _irq = new();
    private readonly IoPortBus _ports = new();
    private readonly Uart16550 _uart;

    public Uart16550Tests()
    {
        _uart = new Uart16550(Com1, 4, _irq, _console);
        _ports.Register(Com1, Uart16550.PortCount, _uart, "COM1");
        Out(Mcr, 0x03); // DTR and RTS: the guest driver is ready for input
    }

    public void Dispose()
    {
        _uart.Dispose();
        _console.Dispose();
    }

    private byte In(ushort port) => (byte)_ports.Read(port, 1);
    private void Out(ushort port, byte value) => _ports.Write(port, 1, value);

    private string ConsoleOutput()
    {
        long offset = 0;
        return Encoding.ASCII.GetString(_console.ReadFrom(ref offset));
    }

    [Fact]
    public void Transmit_ReachesTheConsole()
    {
        foreach (var c in "Hello\r\n") Out(Com1, (byte)c);
        Assert.Equal("Hello\r\n", ConsoleOutput());
        Assert.Equal(0x60, In(Lsr)); // THR and transmitter empty: sending is instant
    }

    [Fact]
    public void Input_WaitsForDtrOrRts_SoSetupCannotLoseIt()
    {
        Out(Mcr, 0x00);
        _console.SendInput("ping");
        Assert.Equal(0, In(Lsr) & 0x01);
        Out(Fcr, 0x07); // the FIFO reset a driver does while setting up
        Out(Mcr, 0x0B);
        var received = new StringBuilder();
        while ((In(Lsr) & 0x01) != 0) received.Append((char)In(Rbr));
        Assert.Equal("ping", received.ToString());
    }

    [Fact]
    public void EarlyConsole_Prints_ButLeavesInputToTheConsoleTheGuestMovesOn()
    {
        using var console = new ConsoleChannel(null);
        var ports = new IoPortBus();
        using var early = new Uart16550(Com1, 4, _irq, console, outputOnly: true);
        ports.Register(Com1, Uart16550.PortCount, early, "early console");
        ports.Write(Mcr, 1, 0x0B);                         // DTR, RTS, OUT2: what earlyprintk sets
        console.SendInput("uname -a\n");
        foreach (var c in "early\n") ports.Write(Com1, 1, c);
        Assert.Equal(0u, ports.Read(Lsr, 1) & 0x01);       // no data ready: the input is not its
        long offset = 0;
        Assert.Equal("early\n", Encoding.ASCII.GetString(console.ReadFrom(ref offset)));
        Assert.Equal(9, console.PendingInput);
    }

    [Fact]
    public void Receive_SetsDataReady_AndRbrReturnsTheByte()
    {
        Assert.Equal(0, In(Lsr) & 0x01);
        _console.SendInput("a");
        Assert.Equal(0x01, In(Lsr) & 0x01);
        Assert.Equal((byte)'a', In(Rbr));
        Assert.Equal(0, In(Lsr) & 0x01);
    }

    [Fact]
    public void ReceiveInterrupt_NeedsIerAndOut2()
    {
        Out(Ier, 0x01);
        _console.SendInput("x");
        Assert.Equal(0x04, In(Iir)); // received data available
        Assert.False(_irq.Level(4));  // OUT2 closes the gate to the PIC

        Out(Mcr, 0x08);
        Assert.True(_irq.Level(4));
        Assert.Equal((byte)'x', In(Rbr));
        Assert.False(_irq.Level(4));
        Assert.Equal(0x01, In(Iir));
    }

    [Fact]
    public async Task InputArrivingFromAnotherThread_RaisesTheInterrupt()
    {
        Out(Ier, 0x01);
        Out(Mcr, 0x0B);
        Assert.False(_irq.Level(4));
        await Task.Run(() => _console.SendInput("late")).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(_irq.Level(4));
    }

    [Fact]
    public void WithoutFifo_OneByteAtATime_TheRestWaitsInTheConsole()
    {
        _console.SendInput("abc");
        Assert.Equal(2, _console.PendingInput);
        Assert.Equal((byte)'a', In(Rbr));
        Assert.Equal((byte)'b', In(Rbr));
        Assert.Equal((byte)'c', In(Rbr));
        Assert.Equal(0, In(Lsr) & 0x01);
    }

    [Fact]
    public void Fifo_Holds16Bytes_AndRefillsAsTheGuestDrains()
    {
        Out(Fcr, 0xC7); // enable, clear both, trigger at 14
        Assert.Equal(0xC1, In(Iir)); // FIFOs enabled, nothing pending
        var text = "0123456789abcdefghij";
        _console.SendInput(text);
        Assert.Equal(4, _console.PendingInput);

        Out(Ier, 0x01);
        Assert.Equal(0xC4, In(Iir)); // at or above the trigger level

        var received = new StringBuilder();
        while ((In(Lsr) & 0x01) != 0) received.Append((char)In(Rbr));
        Assert.Equal(text, received.ToString());
        Assert.Equal(0xC1, In(Iir));
    }

    [Fact]
    public void Fifo_BelowTrigger_ReportsCharacterTimeout()
    {
        Out(Fcr, 0xC1);
        Out(Ier, 0x01);
        _console.SendInput("ok");
        Assert.Equal(0xCC, In(Iir));
    }

    [Fact]
    public void FifoClear_DropsWhatTheFifoHeld()
    {
        Out(Fcr, 0x01);
        Out(Mcr, 0x10); // loopback, so the console does not refill it
        Out(Com1, 1);
        Out(Com1, 2);
        Out(Fcr, 0x03);
        Assert.Equal(0, In(Lsr) & 0x01);
    }

    [Fact]
    public void TransmitEmptyInterrupt_IsRaisedOnEnable_ClearedByIirRead_AndRaisedAgainByAWrite()
    {
        Out(Mcr, 0x08);
        Out(Ier, 0x02);
        Assert.True(_irq.Level(4));
        Assert.Equal(0x02, In(Iir));
        Assert.False(_irq.Level(4));
        Assert.Equal(0x01, In(Iir));

        Out(Com1, (byte)'!');
        Assert.True(_irq.Level(4));
        Assert.Equal("!", ConsoleOutput());
    }

    [Fact]
    public void Loopback_SendsToItsOwnReceiver_NotTheConsole()
    {
        Out(Mcr, 0x10);
        Out(Com1, (byte)'L');
        Assert.Equal("", ConsoleOutput());
        Assert.Equal(0x01, In(Lsr) & 0x01);
        Assert.Equal((byte)'L', In(Rbr));
    }

    [Fact]
    public void Loopback_ModemOutputsAppearAsModemInputs()
    {
        Out(Mcr, 0x10);
        In(Msr); // entering loopback changed the lines; clear the deltas
        Out(Mcr, 0x1F);
        byte msr = In(Msr);
        Assert.Equal(0xF0, msr & 0xF0);
        Assert.Equal(0x0B, msr & 0x0F); // CTS, DSR, DCD changed; RI rose (TERI is the trailing edge only)
        Assert.Equal(0xF0, In(Msr)); // deltas clear on read
        Out(Mcr, 0x1B); // OUT1 (RI) falls
        Assert.Equal(0x04, In(Msr) & 0x0F);
    }

    [Fact]
    public void ModemStatus_OutsideLoopback_IsAConnectedTerminal()
    {
        Assert.Equal(0xB0, In(Msr));
    }

    [Fact]
    public void Overrun_IsReportedInLsr_AndAsTheHighestPriorityInterrupt()
    {
        Out(Mcr, 0x18); // loopback + OUT2
        Out(Ier, 0x05); // received data and line status
        Out(Com1, 1);
        Out(Com1, 2);   // no FIFO: the second byte overruns
        Assert.Equal(0x06, In(Iir));
        Assert.True(_irq.Level(4));
        Assert.Equal(0x03, In(Lsr) & 0x03);
        Assert.Equal(0x04, In(Iir)); // the error is read; the data remains
        Assert.Equal(0x00, In(Lsr) & 0x02);
        Assert.Equal(1, In(Rbr));
    }

    [Fact]
    public void DivisorLatch_IsBehindDlab()
    {
        Out(Ier, 0x05);
        Out(Lcr, 0x83);
        Out(Com1, 0x01);
        Out(Ier, 0x00); // divisor 1: 115200 baud
        Assert.Equal(0x01, In(Com1));
        Assert.Equal(0x00, In(Ier));
        Out(Lcr, 0x03);
        Assert.Equal(0x05, In(Ier));
        Assert.Equal(0x03, In(Lcr));
        Assert.Equal("", ConsoleOutput()); // the divisor write was not data
    }

    [Fact]
    public void ScratchRegister_KeepsItsValue()
    {
        Out(Scr, 0x5A);
        Assert.Equal(0x5A, In(Scr));
    }

    [Fact]
    public void UartWithoutConsole_DropsOutputQuietly()
    {
        var ports = new IoPortBus();
        var irq = new RecordingInterrupts();
        using var uart = new Uart16550(0x2F8, 3, irq, null);
        ports.Register(0x2F8, Uart16550.PortCount, uart, "COM2");
        ports.Write(0x2F8, 1, (byte)'x');
        Assert.Equal(0x60u, ports.Read(0x2FD, 1));
    }

    [Fact]
    public void Dispose_DisconnectsTheConsole()
    {
        _uart.Dispose();
        _console.SendInput("zz");
        Assert.Equal(2, _console.PendingInput);
    }
}
