using VirtShell.Devices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using Xunit;

namespace VirtShell.Tests.Devices;

/// <summary>Port 0x61 on the emulated chipset: PIT channel 2's gate and OUT, the refresh toggle, the speaker bits.</summary>
public sealed class SystemControlPortTests : IDisposable
{
    private readonly WakeSignal _wake = new();
    private readonly IoPortBus _ports = new();
    private readonly Pit8254 _pit;

    public SystemControlPortTests() => (_, _pit) = PcChipset.Attach(_ports, _wake);

    public void Dispose()
    {
        _pit.Dispose();
        _wake.Dispose();
    }

    private void LoadChannel2(byte control, int count)
    {
        _ports.Write(0x43, 1, control);
        _ports.Write(0x42, 1, (byte)count);
        _ports.Write(0x42, 1, (byte)(count >> 8));
    }

    private int LatchChannel2()
    {
        _ports.Write(0x43, 1, 0x80);
        return (int)_ports.Read(0x42, 1) | (int)_ports.Read(0x42, 1) << 8;
    }

    private byte Port61 => (byte)_ports.Read(0x61, 1);

    [Fact]
    public void TheGateIsLowAtPowerOn_SoChannel2HoldsItsCount_UntilBit0RaisesIt()
    {
        LoadChannel2(0xB0, 0xFFFF); // mode 0
        Thread.Sleep(5);
        Assert.Equal(0xFFFF, LatchChannel2());
        _ports.Write(0x61, 1, 0x01);
        Thread.Sleep(10);
        Assert.True(LatchChannel2() < 0xFFFF - 5000, "channel 2 did not count with its gate high");
    }

    [Fact]
    public void Bit5_ReadsOut2_WhichRisesAtTerminalCountInMode0()
    {
        _ports.Write(0x61, 1, 0x01);
        LoadChannel2(0xB0, 0x2000); // ~7 ms
        Assert.Equal(0, Port61 & 0x20);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while ((Port61 & 0x20) == 0 && watch.Elapsed < TimeSpan.FromSeconds(5)) { }
        Assert.Equal(0x20, Port61 & 0x20);
    }

    [Fact]
    public void ALowGate_SuspendsMode0Counting()
    {
        _ports.Write(0x61, 1, 0x01);
        LoadChannel2(0xB0, 0xFFFF);
        Thread.Sleep(5);
        _ports.Write(0x61, 1, 0x00);
        int held = LatchChannel2();
        Thread.Sleep(10);
        Assert.Equal(held, LatchChannel2());
        Assert.True(held < 0xFFFF, "the counter never ran");
    }

    [Fact]
    public void AGateRisingEdge_RestartsMode2FromTheReload()
    {
        _ports.Write(0x61, 1, 0x01);
        LoadChannel2(0xB4, 0xF000); // mode 2, ~51 ms a period
        Thread.Sleep(20);
        Assert.True(LatchChannel2() < 0xF000 - 10_000);
        _ports.Write(0x61, 1, 0x00);
        Assert.Equal(0x20, Port61 & 0x20); // a low gate holds OUT high in mode 2
        var sinceEdge = System.Diagnostics.Stopwatch.StartNew();
        _ports.Write(0x61, 1, 0x01);
        int afterEdge = LatchChannel2();
        // Only a look taken soon after the edge proves anything: a busy host may pause this thread for a period.
        if (sinceEdge.Elapsed < TimeSpan.FromMilliseconds(2))
            Assert.True(afterEdge > 0xF000 - 3000, "the rising edge did not reload the counter");
    }

    [Fact]
    public void Mode1_WaitsForAGateEdge_ThenCounts()
    {
        LoadChannel2(0xB2, 0x8000); // mode 1, gate low
        Thread.Sleep(5);
        Assert.Equal(0x20, Port61 & 0x20); // OUT high until triggered
        var sinceTrigger = System.Diagnostics.Stopwatch.StartNew();
        _ports.Write(0x61, 1, 0x01);
        bool outLow = (Port61 & 0x20) == 0;
        if (sinceTrigger.Elapsed < TimeSpan.FromMilliseconds(20)) Assert.True(outLow, "OUT stayed high after the trigger");   // ~27 ms to terminal count
        Thread.Sleep(5);
        Assert.True(LatchChannel2() < 0x8000 - 3000);
    }

    [Fact]
    public void TheRefreshBitToggles_AndTheLowFourBitsAreStored()
    {
        bool seenHigh = false, seenLow = false;
        for (int i = 0; i < 100_000 && !(seenHigh && seenLow); i++)
        {
            if ((Port61 & 0x10) != 0) seenHigh = true;
            else seenLow = true;
        }
        Assert.True(seenHigh && seenLow, "bit 4 never toggled");
        _ports.Write(0x61, 1, 0xFE);
        Assert.Equal(0x0E, Port61 & 0xCF); // bits 6-7 (error latches) read 0, bits 4-5 are not stored
    }

    /// <summary>Linux's quick_pit_calibrate: channel 2 in mode 0 from 0xFFFF, its MSB read unlatched as it falls.</summary>
    [Fact]
    public void LinuxFastTscCalibration_SeesTheMsbFallStepByStep()
    {
        _ports.Write(0x61, 1, (Port61 & ~0x02u) | 0x01);
        _ports.Write(0x43, 1, 0xB0);
        _ports.Write(0x42, 1, 0xFF);
        _ports.Write(0x42, 1, 0xFF);
        var seen = new List<int>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (seen.Count < 8 && watch.Elapsed < TimeSpan.FromSeconds(5))
        {
            _ports.Read(0x42, 1); // LSB, ignored
            int msb = (int)_ports.Read(0x42, 1);
            if (seen.Count == 0 || seen[^1] != msb) seen.Add(msb);
        }
        Assert.Equal(0xFF, seen[0]);
        Assert.True(seen.Count == 8, $"the MSB went {string.Join(", ", seen.Select(v => v.ToString("x2")))}");
        for (int i = 1; i < seen.Count; i++) Assert.True(seen[i] < seen[i - 1], $"the MSB went {string.Join(", ", seen.Select(v => v.ToString("x2")))}");
    }
}
