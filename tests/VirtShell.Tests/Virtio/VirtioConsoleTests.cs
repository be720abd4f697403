using System.Text;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Memory;
using VirtShell.Tests.Devices;
using Xunit;

namespace VirtShell.Tests.Virtio;

public sealed class VirtioConsoleTests : IDisposable
{
    private const ulong Base = 0xD000_0000, Data = 0x80000;
    private const int Irq = 5, Rx = 0, Tx = 1;

    private readonly GuestMemory _memory = new();
    private readonly MmioBus _bus = new();
    private readonly RecordingInterrupts _irq = new();
    private readonly ConsoleChannel _console = new(null);
    private readonly VirtioConsole _device;
    private readonly GuestDriver _driver;

    public VirtioConsoleTests()
    {
        _memory.AddRam(0, 0x20_0000);
        _device = new VirtioConsole("virtioConsole", _memory, _console, _ => { });
        _bus.Register(Base, VirtioMmioTransport.WindowSize, new VirtioMmioTransport(_device, Base, Irq, _irq), "virtioConsole");
        _driver = new GuestDriver(_memory, _bus, Base);
    }

    public void Dispose()
    {
        _device.Dispose();
        _console.Dispose();
        _memory.Dispose();
    }

    private void Start()
    {
        Assert.True(_driver.Negotiate(GuestDriver.AllCommon | 1UL << 2));
        _driver.SetupQueue(Rx, 8, 0x10000);
        _driver.SetupQueue(Tx, 8, 0x20000);
        _driver.DriverOk();
    }

    private string Output()
    {
        long offset = 0;
        return Encoding.ASCII.GetString(_console.ReadFrom(ref offset));
    }

    [Fact]
    public void Transmit_PutsTheBytesOnTheConsole_AndReturnsTheChain()
    {
        Start();
        _memory.Write(Data, "hel"u8);
        _memory.Write(Data + 0x100, "lo\n"u8);
        var lines = new List<string>();
        _console.LineReceived += lines.Add;
        ushort head = _driver.AddChain(Tx, new Desc(Data, 3), new Desc(Data + 0x100, 3));
        _driver.Notify(Tx);
        Assert.Equal("hello\n", Output());
        Assert.Equal(["hello"], lines);
        Assert.Equal([(head, 0u)], _driver.TakeUsed(Tx));
        Assert.Equal(1u, _driver.InterruptStatus);
    }

    [Fact]
    public void Transmit_LongerThanTheOutputBudget_ArrivesWholeAndInOrder()
    {
        Start();
        var text = new byte[200_000];
        for (int i = 0; i < text.Length; i++) text[i] = (byte)('a' + i % 26);
        _memory.Write(Data, text);
        _driver.AddChain(Tx, new Desc(Data, 150_000), new Desc(Data + 150_000, 50_000));
        _driver.AddChain(Tx, new Desc(Data, 10));
        _driver.Notify(Tx);
        long offset = 0;
        var output = _console.ReadFrom(ref offset);
        Assert.Equal(text.Concat(text.Take(10)), output);
        Assert.Equal(2, _driver.TakeUsed(Tx).Count);
    }

    [Fact]
    public void ConsoleInput_FillsReceiveBuffers_SplittingWhereTheyAreShort()
    {
        Start();
        ushort first = _driver.AddChain(Rx, new Desc(Data, 4, Desc.Write));
        ushort second = _driver.AddChain(Rx, new Desc(Data + 0x100, 16, Desc.Write));
        _driver.Notify(Rx);
        Assert.Empty(_driver.TakeUsed(Rx)); // nothing typed yet: the buffers wait

        _console.SendInput("dir /w\n");
        Assert.Equal([(first, 4u), (second, 3u)], _driver.TakeUsed(Rx));
        Assert.Equal("dir "u8.ToArray(), _memory.Read(Data, 4));
        Assert.Equal("/w\n"u8.ToArray(), _memory.Read(Data + 0x100, 3));
        Assert.True(_irq.Level(Irq));
    }

    [Fact]
    public void InputTypedBeforeTheDriverIsUp_WaitsForItsBuffers()
    {
        _console.SendInput("early");
        Start();
        Assert.Equal(5, _console.PendingInput);
        ushort head = _driver.AddChain(Rx, new Desc(Data, 64, Desc.Write));
        _driver.Notify(Rx);
        Assert.Equal([(head, 5u)], _driver.TakeUsed(Rx));
        Assert.Equal("early"u8.ToArray(), _memory.Read(Data, 5));
    }

    [Fact]
    public void EmergencyWrite_PrintsAByte_OnlyWhenNegotiated()
    {
        Assert.True(_driver.Negotiate(GuestDriver.AllCommon));
        _bus.Write(Base + 0x100 + 8, 4, 'x');
        Assert.Equal("", Output());
        Start();
        _bus.Write(Base + 0x100 + 8, 4, 'y');
        Assert.Equal("y", Output());
    }

    [Fact]
    public async Task ALineHandlerThatSendsInputFromAnotherThread_DoesNotDeadlock()
    {
        Start();
        _driver.AddChain(Rx, new Desc(Data + 0x1000, 64, Desc.Write));
        _driver.Notify(Rx);
        // As a hook on the script thread would: the vCPU thread waits while another thread answers.
        _console.LineReceived += line => Task.Run(() => _console.SendInput("ok\n")).Wait();
        _memory.Write(Data, "ping\n"u8);
        var send = Task.Run(() =>
        {
            _driver.AddChain(Tx, new Desc(Data, 5));
            _driver.Notify(Tx);
        });
        Assert.True(await Task.WhenAny(send, Task.Delay(TimeSpan.FromSeconds(10))) == send, "transmit deadlocked with a line handler that sends input");
        Assert.Equal("ok\n"u8.ToArray(), _memory.Read(Data + 0x1000, 3));
    }
}
