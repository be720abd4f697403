using System.Diagnostics;
using VirtShell.Devices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using Xunit;

namespace VirtShell.Tests.Devices;

public sealed class Pic8259PairTests : IDisposable
{
    private readonly WakeSignal _wake = new();
    private readonly IoPortBus _ports = new();
    private readonly Pic8259Pair _pic;

    public Pic8259PairTests()
    {
        _pic = new Pic8259Pair(_wake);
        _pic.Register(_ports);
    }

    public void Dispose() => _wake.Dispose();

    /// <summary>What a PC BIOS does: edge-triggered, cascaded, 8086 mode, IRQ 0-7 at 0x08 and IRQ 8-15 at 0x70.</summary>
    private void InitLikeBios(byte masterIcw4 = 0x01, byte icw1 = 0x11)
    {
        _ports.Write(0x20, 1, icw1);
        _ports.Write(0x21, 1, 0x08);
        _ports.Write(0x21, 1, 0x04); // slave on IR2
        _ports.Write(0x21, 1, masterIcw4);
        _ports.Write(0xA0, 1, icw1);
        _ports.Write(0xA1, 1, 0x70);
        _ports.Write(0xA1, 1, 0x02); // slave id 2
        _ports.Write(0xA1, 1, 0x01);
        _ports.Write(0x21, 1, 0x00);
        _ports.Write(0xA1, 1, 0x00);
    }

    private byte MasterIsr() { _ports.Write(0x20, 1, 0x0B); return (byte)_ports.Read(0x20, 1); }
    private byte MasterIrr() { _ports.Write(0x20, 1, 0x0A); return (byte)_ports.Read(0x20, 1); }
    private byte SlaveIsr() { _ports.Write(0xA0, 1, 0x0B); return (byte)_ports.Read(0xA0, 1); }

    [Fact]
    public void ThePcsBiosSetup_LatchesAPulseOnIrq11AtVector73()
    {
        // kvm-unit-tests' realmode "sti inhibit": pc-testdev raises and lowers IRQ 11, the handler is at IVT 73h.
        Assert.False(_pic.HasPendingInterrupt);
        PcChipset.InitializePicsAsBios(_ports);
        _pic.SetIrq(11, true);
        _pic.SetIrq(11, false);
        Assert.True(_pic.HasPendingInterrupt);
        Assert.Equal(0x73, _pic.AcknowledgeInterrupt());
        _pic.SetIrq(0, true);
        _ports.Write(0xA0, 1, 0x20);
        _ports.Write(0x20, 1, 0x20);
        Assert.Equal(0x08, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void Irq4_IsDeliveredAtItsVector_AndEoiEndsIt()
    {
        InitLikeBios();
        Assert.False(_pic.HasPendingInterrupt);

        _pic.SetIrq(4, true);
        Assert.True(_pic.HasPendingInterrupt);
        Assert.Equal(0x10, MasterIrr());
        Assert.Equal(0x0C, _pic.AcknowledgeInterrupt());
        Assert.False(_pic.HasPendingInterrupt);
        Assert.Equal(0x10, MasterIsr());
        Assert.Equal(0x00, MasterIrr());

        _ports.Write(0x20, 1, 0x20); // non-specific EOI
        Assert.Equal(0x00, MasterIsr());
    }

    [Fact]
    public async Task RaisingAnInterrupt_WakesAHaltedCpu()
    {
        InitLikeBios();
        var waiter = Task.Run(() =>
        {
            var watch = Stopwatch.StartNew();
            _wake.Wait(TimeSpan.FromSeconds(10));
            return watch.Elapsed;
        });
        await Task.Delay(50);
        _pic.SetIrq(1, true);
        var waited = await waiter.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(waited < TimeSpan.FromSeconds(5), $"woke after {waited}");
    }

    [Fact]
    public void MaskedIrq_IsLatchedButNotSignalled_UntilUnmasked()
    {
        InitLikeBios();
        _ports.Write(0x21, 1, 0x10);
        Assert.Equal(0x10u, _ports.Read(0x21, 1));
        _pic.SetIrq(4, true);
        Assert.False(_pic.HasPendingInterrupt);
        Assert.Equal(0x10, MasterIrr());

        _ports.Write(0x21, 1, 0x00);
        Assert.True(_pic.HasPendingInterrupt);
        Assert.Equal(0x0C, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void HigherPriority_GoesFirst_AndLowerWaitsForEoi()
    {
        InitLikeBios();
        _pic.SetIrq(4, true);
        _pic.SetIrq(1, true);
        Assert.Equal(0x09, _pic.AcknowledgeInterrupt());
        // IRQ 4 is lower than IRQ 1, which is in service.
        Assert.False(_pic.HasPendingInterrupt);
        // IRQ 0 is higher: it nests.
        _pic.SetIrq(0, true);
        Assert.Equal(0x08, _pic.AcknowledgeInterrupt());
        Assert.Equal(0x03, MasterIsr());

        _ports.Write(0x20, 1, 0x20); // ends IRQ 0, the highest in service
        Assert.Equal(0x02, MasterIsr());
        Assert.False(_pic.HasPendingInterrupt);
        _ports.Write(0x20, 1, 0x20);
        Assert.True(_pic.HasPendingInterrupt);
        Assert.Equal(0x0C, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void SpecificEoi_EndsTheNamedLevel()
    {
        InitLikeBios();
        _pic.SetIrq(3, true);
        _pic.AcknowledgeInterrupt();
        _pic.SetIrq(1, true);
        _pic.AcknowledgeInterrupt();
        Assert.Equal(0x0A, MasterIsr());
        _ports.Write(0x20, 1, 0x63); // specific EOI for IR3
        Assert.Equal(0x02, MasterIsr());
    }

    [Fact]
    public void SlaveIrq_CascadesThroughIr2()
    {
        InitLikeBios();
        _pic.SetIrq(12, true);
        Assert.True(_pic.HasPendingInterrupt);
        Assert.Equal(0x74, _pic.AcknowledgeInterrupt());
        Assert.Equal(0x04, MasterIsr());
        Assert.Equal(0x10, SlaveIsr());

        // A second slave request of lower priority waits for the slave's EOI and then the master's.
        _pic.SetIrq(14, true);
        Assert.False(_pic.HasPendingInterrupt);
        _ports.Write(0xA0, 1, 0x20);
        Assert.False(_pic.HasPendingInterrupt);
        _ports.Write(0x20, 1, 0x20);
        Assert.True(_pic.HasPendingInterrupt);
        Assert.Equal(0x76, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void MaskingTheCascade_HoldsBackSlaveIrqs()
    {
        InitLikeBios();
        _ports.Write(0x21, 1, 0x04);
        _pic.SetIrq(8, true);
        Assert.False(_pic.HasPendingInterrupt);
        _ports.Write(0x21, 1, 0x00);
        Assert.Equal(0x70, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void Irq2_IsRoutedToIrq9_AsOnAnAt()
    {
        InitLikeBios();
        _pic.SetIrq(2, true);
        Assert.Equal(0x71, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void EdgeTriggered_ALineHeldHigh_RequestsOnlyOnce()
    {
        InitLikeBios();
        _pic.SetIrq(4, true);
        Assert.Equal(0x0C, _pic.AcknowledgeInterrupt());
        _ports.Write(0x20, 1, 0x20);
        _pic.SetIrq(4, true);
        Assert.False(_pic.HasPendingInterrupt);
        _pic.SetIrq(4, false);
        _pic.SetIrq(4, true);
        Assert.True(_pic.HasPendingInterrupt);
    }

    [Fact]
    public void EdgeTriggered_RequestIsLatched_EvenIfTheLineDrops()
    {
        InitLikeBios();
        _pic.SetIrq(4, true);
        _pic.SetIrq(4, false);
        Assert.True(_pic.HasPendingInterrupt);
        Assert.Equal(0x0C, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void LevelTriggered_RequestThatGoesAway_GivesTheSpuriousIr7Vector()
    {
        InitLikeBios(icw1: 0x19);
        _pic.SetIrq(3, true);
        Assert.True(_pic.HasPendingInterrupt);
        _pic.SetIrq(3, false);
        Assert.False(_pic.HasPendingInterrupt);
        Assert.Equal(0x0F, _pic.AcknowledgeInterrupt());
        Assert.Equal(0x00, MasterIsr());
    }

    [Fact]
    public void AutoEoi_LeavesNothingInService()
    {
        InitLikeBios(masterIcw4: 0x03);
        _pic.SetIrq(5, true);
        Assert.Equal(0x0D, _pic.AcknowledgeInterrupt());
        Assert.Equal(0x00, MasterIsr());
        _pic.SetIrq(6, true);
        Assert.True(_pic.HasPendingInterrupt);
    }

    [Fact]
    public void SetPriority_MakesTheNextLevelHighest()
    {
        InitLikeBios();
        _ports.Write(0x20, 1, 0xC3); // IR3 lowest, so IR4 highest
        _pic.SetIrq(1, true);
        _pic.SetIrq(5, true);
        Assert.Equal(0x0D, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void RotateOnNonSpecificEoi_MovesTheServicedLevelToLowest()
    {
        InitLikeBios();
        _pic.SetIrq(1, true);
        Assert.Equal(0x09, _pic.AcknowledgeInterrupt());
        _ports.Write(0x20, 1, 0xA0); // rotate on non-specific EOI: IR1 becomes lowest
        _pic.SetIrq(1, false);
        _pic.SetIrq(1, true);
        _pic.SetIrq(6, true);
        Assert.Equal(0x0E, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void PollMode_ReadReturnsTheLevelAndAcknowledges()
    {
        InitLikeBios();
        _ports.Write(0x21, 1, 0xFF);
        _pic.SetIrq(6, true);
        _ports.Write(0x20, 1, 0x0C);
        // Masked levels are not polled.
        Assert.Equal(0x00u, _ports.Read(0x20, 1));
        _ports.Write(0x21, 1, 0x00);
        _ports.Write(0x20, 1, 0x0C);
        Assert.Equal(0x86u, _ports.Read(0x20, 1));
        Assert.Equal(0x40, MasterIsr());
    }

    [Fact]
    public void SpecialMaskMode_LetsLowerLevelsInWhileAHigherOneIsMaskedInService()
    {
        InitLikeBios();
        _pic.SetIrq(1, true);
        _pic.AcknowledgeInterrupt();
        _pic.SetIrq(5, true);
        Assert.False(_pic.HasPendingInterrupt);
        _ports.Write(0x21, 1, 0x02);
        _ports.Write(0x20, 1, 0x68); // set special mask mode
        Assert.True(_pic.HasPendingInterrupt);
        Assert.Equal(0x0D, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void BeforeInitialisation_NothingIsDelivered()
    {
        _pic.SetIrq(0, true);
        Assert.False(_pic.HasPendingInterrupt);
        Assert.Equal(-1, _pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void Icw1_ResetsMaskAndInServiceState()
    {
        InitLikeBios();
        _ports.Write(0x21, 1, 0xF0);
        _pic.SetIrq(1, true);
        _pic.AcknowledgeInterrupt();
        _ports.Write(0x20, 1, 0x11);
        _ports.Write(0x21, 1, 0x08);
        _ports.Write(0x21, 1, 0x04);
        _ports.Write(0x21, 1, 0x01);
        Assert.Equal(0x00u, _ports.Read(0x21, 1));
        Assert.Equal(0x00, MasterIsr());
    }

    [Fact]
    public void SixteenBitRead_CoversBothPorts()
    {
        InitLikeBios();
        _ports.Write(0x21, 1, 0x5A);
        _ports.Write(0x20, 1, 0x0A);
        Assert.Equal(0x5A00u, _ports.Read(0x20, 2));
    }

    [Fact]
    public void IrqOutsideTheRange_IsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _pic.SetIrq(16, true));
    }
}
