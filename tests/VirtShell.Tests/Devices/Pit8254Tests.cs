using System.Diagnostics;
using VirtShell.Devices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using Xunit;

namespace VirtShell.Tests.Devices;

public sealed class Pit8254Tests : IDisposable
{
    private readonly RecordingInterrupts _irq = new();
    private readonly IoPortBus _ports = new();
    private readonly Pit8254 _pit;

    public Pit8254Tests()
    {
        _pit = new Pit8254(_irq);
        _pit.Register(_ports);
    }

    public void Dispose() => _pit.Dispose();

    private void Program(int channel, byte control, int count)
    {
        _ports.Write(0x43, 1, control);
        _ports.Write((ushort)(0x40 + channel), 1, (byte)count);
        _ports.Write((ushort)(0x40 + channel), 1, (byte)(count >> 8));
    }

    private int LatchAndRead(int channel)
    {
        _ports.Write(0x43, 1, (byte)(channel << 6)); // counter latch
        int low = (int)_ports.Read((ushort)(0x40 + channel), 1);
        return low | (int)_ports.Read((ushort)(0x40 + channel), 1) << 8;
    }

    private byte ReadStatus(int channel)
    {
        _ports.Write(0x43, 1, (byte)(0xE0 | 2 << channel)); // read-back, status only
        return (byte)_ports.Read((ushort)(0x40 + channel), 1);
    }

    private static int Divisor(int hz) => (int)(1_193_182 / hz);

    [Theory]
    [InlineData(0x34)] // channel 0, lo/hi, mode 2 (rate generator), as Linux programs it
    [InlineData(0x36)] // mode 3 (square wave), as a BIOS does
    public void PeriodicMode_RaisesIrq0_AtAboutTheProgrammedRate(byte control)
    {
        var watch = Stopwatch.StartNew();
        Program(0, control, Divisor(100));
        Thread.Sleep(1000);
        int edges = _irq.RisingEdges(0);
        double seconds = watch.Elapsed.TotalSeconds;
        // Loose on purpose: a busy host may delay the timer thread, and missed edges merge.
        Assert.InRange(edges, 5, (int)(seconds * 100) + 2);
    }

    [Fact]
    public void PeriodicRate_IsClampedTo10kHz()
    {
        var watch = Stopwatch.StartNew();
        Program(0, 0x34, 2); // ~600 kHz asked for
        Thread.Sleep(300);
        int edges = _irq.RisingEdges(0);
        Assert.InRange(edges, 1, (int)(watch.Elapsed.TotalSeconds * 10_000) + 2);
    }

    [Fact]
    public void Mode0_RaisesIrq0_OnceAtTerminalCount_AndHoldsIt()
    {
        var sinceProgrammed = Stopwatch.StartNew();
        Program(0, 0x30, 0xFFFF); // ~54.9 ms
        bool early = _irq.Level(0);
        // Only a look taken well before terminal count proves anything: a busy host may pause this thread that long.
        if (sinceProgrammed.Elapsed < TimeSpan.FromMilliseconds(40)) Assert.False(early);
        var deadline = Stopwatch.StartNew();
        while (!_irq.Level(0) && deadline.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(5);
        Assert.True(_irq.Level(0));
        Thread.Sleep(100);
        Assert.Equal(1, _irq.RisingEdges(0));
        Assert.True(_irq.Level(0));

        // Reprogramming drops OUT again.
        _ports.Write(0x43, 1, 0x30);
        Assert.False(_irq.Level(0));
    }

    [Fact]
    public void Mode0_FirstByteOfANewCountStopsTheCounter_TheSecondRestartsIt()
    {
        Program(0, 0x30, 0xFFFF); // ~55 ms
        _ports.Write(0x40, 1, 0x10); // low byte of the next count: counting stops
        Thread.Sleep(150);
        Assert.Equal(0, _irq.RisingEdges(0));

        _ports.Write(0x40, 1, 0x01); // count 0x0110, ~0.2 ms
        var watch = Stopwatch.StartNew();
        while (_irq.RisingEdges(0) == 0 && watch.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(5);
        Assert.Equal(1, _irq.RisingEdges(0));
    }

    [Fact]
    public void Dispose_StopsTheTimer()
    {
        Program(0, 0x34, Divisor(1000));
        Thread.Sleep(50);
        _pit.Dispose();
        int edges = _irq.RisingEdges(0);
        Thread.Sleep(100);
        Assert.Equal(edges, _irq.RisingEdges(0));
    }

    [Fact]
    public void Counter_CountsDownInRealTime()
    {
        Program(2, 0xB0, 0xFFFF); // channel 2, mode 0, ~55 ms to terminal count
        int first = LatchAndRead(2);
        Thread.Sleep(10);
        int second = LatchAndRead(2);
        Assert.InRange(first, 1, 0xFFFF);
        // 10 ms is about 11,900 input clocks.
        Assert.True(first - second >= 10_000, $"counter went from {first} to {second}");
    }

    [Fact]
    public void LatchedCount_HoldsUntilRead()
    {
        Program(2, 0xB0, 0xFFFF);
        _ports.Write(0x43, 1, 0x80); // latch channel 2
        int low = (int)_ports.Read(0x42, 1);
        Thread.Sleep(10);
        _ports.Write(0x43, 1, 0x80); // ignored: the first latch has not been read out
        int latched = low | (int)_ports.Read(0x42, 1) << 8;
        int now = LatchAndRead(2);
        Assert.True(latched - now >= 10_000, $"latched {latched}, then {now}");
    }

    [Fact]
    public void RateGenerator_CountStaysWithinTheReload()
    {
        Program(1, 0x74, 1000); // channel 1, mode 2
        for (int i = 0; i < 20; i++)
        {
            Assert.InRange(LatchAndRead(1), 1, 1000);
            Thread.Sleep(1);
        }
    }

    [Fact]
    public void LowByteOnlyAccess_LoadsAndReadsOneByte()
    {
        _ports.Write(0x43, 1, 0x94); // channel 2, low byte only, mode 2: the count cycles 0xF0..1
        _ports.Write(0x42, 1, 0xF0);
        for (int i = 0; i < 10; i++) Assert.InRange((int)_ports.Read(0x42, 1), 1, 0xF0);
    }

    [Fact]
    public void HighByteOnlyAccess_LoadsTheHighByte()
    {
        _ports.Write(0x43, 1, 0xA0); // channel 2, high byte only, mode 0: count 0xFF00 (~55 ms)
        _ports.Write(0x42, 1, 0xFF);
        int high = (int)_ports.Read(0x42, 1);
        Assert.InRange(high, 0x80, 0xFF); // 0x80 would take ~27 ms
    }

    [Fact]
    public void BcdMode_CountsInDecimalDigits()
    {
        Program(2, 0xB1, 0x9999);
        Thread.Sleep(2);
        int count = LatchAndRead(2);
        for (int nibble = 0; nibble < 4; nibble++) Assert.InRange(count >> 4 * nibble & 0xF, 0, 9);
        Assert.True(count < 0x9999, $"count 0x{count:x}");
    }

    [Fact]
    public void ReadBack_Status_ShowsModeNullCountAndOut()
    {
        _ports.Write(0x43, 1, 0xB0); // channel 2, lo/hi, mode 0
        Assert.Equal(0x70, ReadStatus(2)); // OUT low, null count, access 3, mode 0
        _ports.Write(0x42, 1, 0x10);
        _ports.Write(0x42, 1, 0x00); // 16 clocks: over in microseconds
        Thread.Sleep(5);
        Assert.Equal(0xB0, ReadStatus(2)); // OUT high, count loaded
    }

    [Fact]
    public void ReadBack_StatusAndCount_StatusComesFirst()
    {
        Program(2, 0xB4, 1000); // mode 2
        _ports.Write(0x43, 1, 0xC8); // read-back: count and status of channel 2
        Assert.Equal(0x34u, _ports.Read(0x42, 1) & 0x7F); // OUT aside (it drops for one clock per period): lo/hi, mode 2
        int count = (int)_ports.Read(0x42, 1) | (int)_ports.Read(0x42, 1) << 8;
        Assert.InRange(count, 1, 1000);
    }

    [Fact]
    public void ChipsetAttach_DeliversTimerInterruptsThroughThePic()
    {
        using var wake = new WakeSignal();
        var ports = new IoPortBus();
        var (pic, pit) = PcChipset.Attach(ports, wake);
        using (pit)
        {
            ports.Write(0x20, 1, 0x11);
            ports.Write(0x21, 1, 0x20);
            ports.Write(0x21, 1, 0x04);
            ports.Write(0x21, 1, 0x01);
            ports.Write(0x21, 1, 0xFE); // only the timer
            ports.Write(0x43, 1, 0x34);
            ports.Write(0x40, 1, (byte)Divisor(100));
            ports.Write(0x40, 1, (byte)(Divisor(100) >> 8));

            for (int tick = 0; tick < 3; tick++)
            {
                var watch = Stopwatch.StartNew();
                while (!pic.HasPendingInterrupt && watch.Elapsed < TimeSpan.FromSeconds(5)) wake.Wait(TimeSpan.FromMilliseconds(100));
                Assert.True(pic.HasPendingInterrupt, $"tick {tick} never came");
                Assert.Equal(0x20, pic.AcknowledgeInterrupt());
                ports.Write(0x20, 1, 0x20);
            }
        }
        Assert.Contains(ports.Claims, c => c.Start == 0x40 && c.Length == 4);
        Assert.Contains(ports.Claims, c => c.Start == 0xA0 && c.Length == 2);
    }
}
