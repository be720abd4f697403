using System.Diagnostics;
using VirtShell.Devices;
using VirtShell.Engine.Buses;
using Xunit;

namespace VirtShell.Tests.Devices;

/// <summary>
/// The CMOS RTC through ports 0x70/0x71, and its MC146818 register model driven with chosen timestamps where the
/// behaviour depends on where in a second it is read (UIP, update and alarm flags).
/// </summary>
public sealed class CmosRtcTests : IDisposable
{
    private static readonly DateTime Noonish = new(2026, 12, 7, 13, 45, 30, DateTimeKind.Utc);
    private const long Base = 1_000_000_000;

    private readonly RecordingInterrupts _irq = new();
    private readonly IoPortBus _ports = new();
    private readonly CmosRtc _rtc;

    public CmosRtcTests()
    {
        // 13:45:30.000 now: the tests below read it well within the second.
        _rtc = new CmosRtc(_irq, 256UL << 20, Noonish, Stopwatch.GetTimestamp());
        _rtc.Register(_ports);
    }

    public void Dispose() => _rtc.Dispose();

    private byte Cmos(int index)
    {
        _ports.Write(0x70, 1, (uint)index);
        return (byte)_ports.Read(0x71, 1);
    }

    private void SetCmos(int index, byte value)
    {
        _ports.Write(0x70, 1, (uint)index);
        _ports.Write(0x71, 1, value);
    }

    private static long At(double seconds) => Base + (long)(seconds * Stopwatch.Frequency);

    /// <summary>The register model at 13:45:30.000 at <see cref="Base"/>, with the periodic rate off so PF stays out of register C.</summary>
    private static Mc146818 Chip()
    {
        var chip = new Mc146818(Noonish, Base);
        chip.Write(0x0A, 0x20, Base);
        return chip;
    }

    [Fact]
    public void TimeRegisters_ReadTheClockInBcd_24Hour_ByDefault()
    {
        Assert.Equal(0x30, Cmos(0x00));
        Assert.Equal(0x45, Cmos(0x02));
        Assert.Equal(0x13, Cmos(0x04));
        Assert.Equal(0x02, Cmos(0x06)); // Monday; Sunday is 1
        Assert.Equal(0x07, Cmos(0x07));
        Assert.Equal(0x12, Cmos(0x08));
        Assert.Equal(0x26, Cmos(0x09));
        Assert.Equal(0x20, Cmos(0x32)); // century
    }

    [Fact]
    public void RegisterB_SelectsBinaryAnd12HourFormats()
    {
        SetCmos(0x0B, 0x04); // binary, 12-hour
        Assert.Equal(30, Cmos(0x00));
        Assert.Equal(0x80 | 1, Cmos(0x04)); // 1 pm
        Assert.Equal(26, Cmos(0x09));
        SetCmos(0x0B, 0x00); // BCD, 12-hour
        Assert.Equal(0x81, Cmos(0x04));
    }

    [Fact]
    public void TheDefaultConstructor_ShowsTheHostsUtcTime()
    {
        using var rtc = new CmosRtc(_irq, 1 << 20);
        var ports = new IoPortBus();
        rtc.Register(ports);
        int Bcd(int index)
        {
            ports.Write(0x70, 1, (uint)index);
            uint v = ports.Read(0x71, 1);
            return (int)(v >> 4) * 10 + (int)(v & 0xF);
        }
        var host = DateTime.UtcNow;
        var guest = new DateTime(2000 + Bcd(0x09), Bcd(0x08), Bcd(0x07), Bcd(0x04), Bcd(0x02), Bcd(0x00), DateTimeKind.Utc);
        Assert.InRange((guest - host).TotalSeconds, -2, 2);
    }

    [Fact]
    public void RegisterD_SaysTheRamIsValid_AndRegisterAIsWhatABiosLeaves()
    {
        Assert.Equal(0x80, Cmos(0x0D));
        Assert.Equal(0x26, Cmos(0x0A) & 0x7F); // 32.768 kHz divider, 1024 Hz rate
        Assert.Equal(0x02, Cmos(0x0B));
    }

    [Fact]
    public void TheNmiMaskBit_IsNotPartOfTheIndex_AndPort70ReadsAllOnes()
    {
        _ports.Write(0x70, 1, 0x80 | 0x09);
        Assert.Equal(0x26u, _ports.Read(0x71, 1));
        Assert.Equal(0xFFu, _ports.Read(0x70, 1));
    }

    [Theory]
    [InlineData(256UL << 20, 640, 0xFFFF, 240 * 16)]         // above 64 MiB the 1 KiB count saturates
    [InlineData(32UL << 20, 640, 31 * 1024, 16 * 16)]
    [InlineData(8UL << 20, 640, 7 * 1024, 0)]
    [InlineData(512UL << 10, 512, 0, 0)]
    public void Nvram_HoldsTheMemorySizes_AsABiosLeavesThem(ulong ram, int baseKiB, int extendedKiB, int above16MiBBlocks)
    {
        using var rtc = new CmosRtc(_irq, ram);
        var ports = new IoPortBus();
        rtc.Register(ports);
        int Word(int index)
        {
            ports.Write(0x70, 1, (uint)index);
            int low = (int)ports.Read(0x71, 1);
            ports.Write(0x70, 1, (uint)index + 1);
            return low | (int)ports.Read(0x71, 1) << 8;
        }
        Assert.Equal(baseKiB, Word(0x15));
        Assert.Equal(extendedKiB, Word(0x17));
        Assert.Equal(extendedKiB, Word(0x30));
        Assert.Equal(above16MiBBlocks, Word(0x34));
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++)
        {
            ports.Write(0x70, 1, (uint)i);
            sum += (int)ports.Read(0x71, 1);
        }
        Assert.Equal(sum, Word(0x2E) >> 8 | (Word(0x2E) & 0xFF) << 8); // the checksum is stored high byte first
    }

    [Fact]
    public void Nvram_HasTheEquipmentByte_AndKeepsWhatTheGuestWrites()
    {
        Assert.Equal(0x02, Cmos(0x14)); // math coprocessor, no floppies
        SetCmos(0x50, 0xA5);
        SetCmos(0x7F, 0x5A);
        Assert.Equal(0xA5, Cmos(0x50));
        Assert.Equal(0x5A, Cmos(0x7F));
    }

    [Fact]
    public void SettingTheTime_UnderSet_TakesEffectWhenSetClears()
    {
        SetCmos(0x0B, 0x82); // SET, 24-hour BCD
        SetCmos(0x04, 0x08);
        SetCmos(0x02, 0x15);
        SetCmos(0x00, 0x00);
        SetCmos(0x09, 0x30);
        Assert.Equal(0x08, Cmos(0x04)); // stopped: the registers read as written
        SetCmos(0x0B, 0x02);
        Assert.Equal(0x08, Cmos(0x04));
        Assert.Equal(0x15, Cmos(0x02));
        Assert.Equal(0x30, Cmos(0x09));
        Assert.Equal(0x07, Cmos(0x07)); // untouched fields keep their values
    }

    [Fact]
    public void RegisterC_ReportsFlagsOnce_AndItsReadLowersIrq8()
    {
        SetCmos(0x0A, 0x23); // 8192 Hz
        SetCmos(0x0B, 0x42); // periodic interrupt on
        var watch = Stopwatch.StartNew();
        while (!_irq.Level(8) && watch.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(1);
        Assert.True(_irq.Level(8), "no periodic interrupt");
        SetCmos(0x0B, 0x02); // off again, so the next read of C is the last word
        byte c = Cmos(0x0C);
        Assert.Equal(0xC0, c & 0xC0); // IRQF and PF
        Assert.False(_irq.Level(8));
        Assert.Equal(0, Cmos(0x0C) & 0x80);
    }

    [Fact]
    public void PeriodicInterrupt_RisesAtTheRateOfRegisterA_OnceEachTimeCIsRead()
    {
        SetCmos(0x0A, 0x2F); // 2 Hz
        SetCmos(0x0B, 0x42);
        var watch = Stopwatch.StartNew();
        int handled = 0;
        while (watch.Elapsed < TimeSpan.FromSeconds(1.6))
        {
            if (_irq.Level(8))
            {
                Cmos(0x0C); // the handler's acknowledgement
                handled++;
            }
            Thread.Sleep(5);
        }
        // Off before counting, and the last edge handled: a busy host may wake this thread after another rose.
        SetCmos(0x0B, 0x02);
        if (_irq.Level(8))
        {
            Cmos(0x0C);
            handled++;
        }
        Assert.InRange(handled, 2, 4);
        Assert.Equal(handled, _irq.RisingEdges(8));
    }

    [Fact]
    public void Uip_IsHighFor244MicrosecondsBeforeEachUpdate()
    {
        var chip = Chip();
        Assert.Equal(0, chip.Read(0x0A, At(0.9)) & 0x80);
        Assert.Equal(0x80, chip.Read(0x0A, At(0.9998)) & 0x80);
        Assert.Equal(0x30, chip.Read(0x00, At(0.9998)));  // the old second until the update
        Assert.Equal(0, chip.Read(0x0A, At(1.0001)) & 0x80);
        Assert.Equal(0x31, chip.Read(0x00, At(1.0001)));
    }

    [Fact]
    public void UpdateEndedFlag_IsSetByEachUpdate_AndRaisesTheLineWhenEnabled()
    {
        var chip = Chip();
        Assert.Equal(0, chip.Read(0x0C, At(0.5)));
        Assert.Equal(0x10, chip.Read(0x0C, At(1.5))); // UF without IRQF: UIE is off
        chip.Write(0x0B, 0x12, At(1.6));              // UIE on
        Assert.InRange(chip.NextEvent(At(1.6)), At(2.0), At(2.001));
        chip.Advance(At(2.001));
        Assert.True(chip.InterruptLine);
        Assert.Equal(Mc146818.Never, chip.NextEvent(At(2.1))); // nothing can raise the line until C is read
        Assert.Equal(0x90, chip.Read(0x0C, At(2.2)));
        Assert.False(chip.InterruptLine);
    }

    [Fact]
    public void Alarm_MatchesItsTime_WithDontCareBytes()
    {
        var chip = Chip();
        chip.Write(0x01, 0x33, Base);    // xx:xx:33
        chip.Write(0x03, 0xC0, Base);    // any minute
        chip.Write(0x05, 0xFF, Base);    // any hour
        chip.Write(0x0B, 0x22, Base);    // AIE
        chip.Advance(At(2.5));
        Assert.False(chip.InterruptLine);
        chip.Advance(At(3.01));           // 13:45:33
        Assert.True(chip.InterruptLine);
        Assert.Equal(0xB0, chip.Read(0x0C, At(3.1))); // IRQF, AF, UF
    }

    [Fact]
    public void Set_StopsUpdates_AndClearsUie()
    {
        var chip = Chip();
        chip.Write(0x0B, 0x92, Base); // SET with UIE: UIE is dropped
        Assert.Equal(0x82, chip.Read(0x0B, Base));
        Assert.Equal(0x30, chip.Read(0x00, At(5)));
        Assert.Equal(0, chip.Read(0x0A, At(5.9999)) & 0x80); // no update, so no UIP
        Assert.Equal(0, chip.Read(0x0C, At(6)));
    }

    [Fact]
    public void ADividerHeldInReset_StopsTheClock_AndItsReleaseUpdatesHalfASecondLater()
    {
        var chip = Chip();
        chip.Write(0x0A, 0x66, At(0.2));
        Assert.Equal(0x30, chip.Read(0x00, At(10)));
        chip.Write(0x0A, 0x26, At(10));
        Assert.Equal(0x30, chip.Read(0x00, At(10.4)));
        Assert.Equal(0x31, chip.Read(0x00, At(10.6)));
    }
}
