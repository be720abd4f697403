using VirtShell.Devices.Apic;
using Xunit;
using L = VirtShell.Devices.Apic.LocalApic;

namespace VirtShell.Tests.Devices;

/// <summary>The local APIC through its MMIO window and the CPU's side of <see cref="ApicChipset"/>.</summary>
public sealed class LocalApicTests : IDisposable
{
    private readonly ApicTestRig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void It_identifies_itself_and_starts_in_virtual_wire_mode_as_a_bios_leaves_it()
    {
        Assert.Equal(0x0005_0014u, _rig.Read(L.RegVersion));   // version 14h, six LVT entries
        Assert.Equal(0u, _rig.Read(L.RegId));
        Assert.Equal(0x1FFu, _rig.Read(L.RegSvr));              // software enabled, spurious vector FFh
        Assert.Equal(0x700u, _rig.Read(L.RegLvtLint0));          // ExtINT, unmasked
        Assert.Equal(0x400u, _rig.Read(L.RegLvtLint1));          // NMI
        Assert.Equal(L.LvtMasked, _rig.Read(L.RegLvtTimer));
        Assert.Equal(0xFFFF_FFFFu, _rig.Read(L.RegDfr));
        Assert.Equal(0xFEE0_0900UL, _rig.Apics.BaseMsr);        // enabled, bootstrap processor
        Assert.True(_rig.Apics.Enabled);
    }

    [Fact]
    public void Registers_keep_only_their_writable_bits()
    {
        _rig.Write(L.RegTpr, 0xFFFF_FF35);
        _rig.Write(L.RegLdr, 0x0312_3456);
        _rig.Write(L.RegDfr, 0x0000_0000);
        _rig.Write(L.RegLvtError, 0xFFFF_FFFF);
        _rig.Write(L.RegTimerDivide, 0xFFFF_FFFF);
        Assert.Equal(0x35u, _rig.Read(L.RegTpr));
        Assert.Equal(0x0300_0000u, _rig.Read(L.RegLdr));
        Assert.Equal(0x0FFF_FFFFu, _rig.Read(L.RegDfr));         // cluster model; the low bits read as ones
        Assert.Equal(0x0001_00FFu, _rig.Read(L.RegLvtError));
        Assert.Equal(0xBu, _rig.Read(L.RegTimerDivide));
        _rig.Write(L.RegVersion, 0);
        Assert.Equal(0x0005_0014u, _rig.Read(L.RegVersion));     // read-only
    }

    [Fact]
    public void An_nmi_sent_to_itself_is_pending_until_the_cpu_takes_it_and_touches_no_vector()
    {
        // kvm-unit-tests' apic_self_nmi: physical destination 0 (our ID), delivery mode NMI, vector field 0.
        _rig.Write(L.RegIcrHigh, 0);
        _rig.Write(L.RegIcrLow, L.DeliveryNmi << 8 | 1 << 14);
        Assert.True(_rig.Apics.HasPendingNmi);
        Assert.False(_rig.Apics.HasPendingInterrupt);
        Assert.Equal(0u, _rig.Read(L.RegEsr));                   // vector 0 is no error for an NMI
        Assert.True(_rig.Apics.AcknowledgeNmi());
        Assert.False(_rig.Apics.HasPendingNmi);
        Assert.False(_rig.Apics.AcknowledgeNmi());

        _rig.Write(L.RegIcrLow, 3 << 18 | L.DeliveryNmi << 8);  // all excluding self: nobody else to get it
        Assert.False(_rig.Apics.HasPendingNmi);
    }

    [Fact]
    public void A_self_ipi_is_taken_into_service_and_eoi_clears_it()
    {
        _rig.SelfIpi(0x40);
        Assert.True(_rig.Bit(L.RegIrr, 0x40));
        Assert.True(_rig.Apics.HasPendingInterrupt);
        Assert.Equal(0x40, _rig.Apics.AcknowledgeInterrupt());
        Assert.False(_rig.Bit(L.RegIrr, 0x40));
        Assert.True(_rig.Bit(L.RegIsr, 0x40));
        Assert.False(_rig.Apics.HasPendingInterrupt);
        Assert.Equal(0x40u, _rig.Read(L.RegPpr));                // the in-service class

        _rig.Eoi();
        Assert.False(_rig.Bit(L.RegIsr, 0x40));
        Assert.Equal(0u, _rig.Read(L.RegPpr));
    }

    [Fact]
    public void Priority_classes_hold_back_vectors_at_or_below_the_task_or_in_service_class()
    {
        _rig.Write(L.RegTpr, 0x50);
        _rig.SelfIpi(0x45);                                      // class 4, below the task priority
        Assert.False(_rig.Apics.HasPendingInterrupt);
        _rig.SelfIpi(0x5F);                                      // class 5: equal is not enough
        Assert.False(_rig.Apics.HasPendingInterrupt);
        _rig.SelfIpi(0x61);
        Assert.Equal(0x61, _rig.Apics.AcknowledgeInterrupt());

        _rig.Write(L.RegTpr, 0);
        _rig.SelfIpi(0x62);                                      // same class as the one in service
        Assert.False(_rig.Apics.HasPendingInterrupt);
        Assert.Equal(0x60u, _rig.Read(L.RegPpr));
        _rig.SelfIpi(0x70);                                      // a higher class nests
        Assert.Equal(0x70, _rig.Apics.AcknowledgeInterrupt());

        _rig.Eoi();                                              // ends 70h, the highest in service
        Assert.True(_rig.Bit(L.RegIsr, 0x61));
        Assert.False(_rig.Apics.HasPendingInterrupt);
        _rig.Eoi();
        Assert.Equal(0x62, _rig.Apics.AcknowledgeInterrupt());
        _rig.Eoi();
        Assert.Equal(0x5F, _rig.Apics.AcknowledgeInterrupt());
        _rig.Eoi();
        Assert.Equal(0x45, _rig.Apics.AcknowledgeInterrupt());
    }

    [Fact]
    public void An_illegal_vector_is_an_error_the_esr_shows_after_a_write_and_the_error_lvt_delivers()
    {
        _rig.Write(L.RegLvtError, 0xEE);
        _rig.SelfIpi(0x05);
        Assert.Equal(0u, _rig.Read(L.RegEsr));                  // not until the ESR is written
        _rig.Write(L.RegEsr, 0);
        Assert.Equal(L.EsrSendIllegalVector | L.EsrReceiveIllegalVector, _rig.Read(L.RegEsr));
        Assert.Equal(0xEE, _rig.Apics.AcknowledgeInterrupt());
        _rig.Write(L.RegEsr, 0);
        Assert.Equal(0u, _rig.Read(L.RegEsr));
    }

    [Fact]
    public void A_software_disabled_apic_masks_every_lvt_entry_and_delivers_nothing()
    {
        _rig.SelfIpi(0x80);
        _rig.Write(L.RegSvr, 0xFF);
        Assert.Equal(0x10700u, _rig.Read(L.RegLvtLint0));
        _rig.Write(L.RegLvtTimer, 0x30);
        Assert.Equal(L.LvtMasked | 0x30, _rig.Read(L.RegLvtTimer));
        Assert.False(_rig.Apics.HasPendingInterrupt);

        _rig.Write(L.RegSvr, 0x1FF);
        Assert.Equal(0x80, _rig.Apics.AcknowledgeInterrupt());  // held in the IRR meanwhile
    }

    [Fact]
    public void The_one_shot_timer_counts_down_from_host_time_and_fires_once()
    {
        _rig.Write(L.RegTimerDivide, 0xB);                       // divide by 1
        _rig.Write(L.RegLvtTimer, 0x31);
        _rig.Write(L.RegTimerInitial, 500_000_000);             // 0.5 s at 1 GHz
        uint first = _rig.Read(L.RegTimerCurrent);
        Assert.InRange(first, 1u, 500_000_000u);
        Thread.Sleep(2);
        Assert.True(_rig.Read(L.RegTimerCurrent) < first);

        Assert.True(_rig.WaitForPending(), "the timer never fired");
        Assert.Equal(0u, _rig.Read(L.RegTimerCurrent));
        Assert.Equal(0x31, _rig.Apics.AcknowledgeInterrupt());
        _rig.Eoi();
        Assert.Equal(500_000_000u, _rig.Read(L.RegTimerInitial));
    }

    [Fact]
    public void The_periodic_timer_reloads_and_fires_again()
    {
        _rig.Write(L.RegTimerDivide, 0x3);                       // divide by 16
        _rig.Write(L.RegLvtTimer, L.LvtTimerPeriodic | 0x32);
        _rig.Write(L.RegTimerInitial, 250_000);                 // 4 ms
        for (int i = 0; i < 3; i++)
        {
            Assert.True(_rig.WaitForPending(), $"tick {i} never came");
            Assert.Equal(0x32, _rig.Apics.AcknowledgeInterrupt());
            _rig.Eoi();
        }
        Assert.InRange(_rig.Read(L.RegTimerCurrent), 1u, 250_000u); // reloaded, still counting

        _rig.Write(L.RegTimerInitial, 0);                         // stops it
        Assert.Equal(0u, _rig.Read(L.RegTimerCurrent));
    }

    [Fact]
    public void The_8259_passes_through_lint0_in_extint_mode_only()
    {
        _rig.InitPicLikeBios();
        _rig.Apics.SetIrq(1, true);
        Assert.True(_rig.Apics.HasPendingInterrupt);
        _rig.Write(L.RegLvtLint0, L.LvtMasked | 0x700);
        Assert.False(_rig.Apics.HasPendingInterrupt);
        _rig.Write(L.RegLvtLint0, 0x700);
        Assert.Equal(0x09, _rig.Apics.AcknowledgeInterrupt());   // the 8259's vector, from its INTA cycle
    }

    [Fact]
    public void The_base_msr_moves_the_window_and_disabling_it_leaves_the_8259_on_intr()
    {
        Assert.False(_rig.Apics.TryWriteBaseMsr(0xFEE0_0800 | 1 << 10));  // x2APIC enable: reserved here
        Assert.False(_rig.Apics.TryWriteBaseMsr(0x10_FEE0_0800));         // above 36 address bits

        Assert.True(_rig.Apics.TryWriteBaseMsr(0xFED0_0800));
        Assert.Equal(0xFED0_0900UL, _rig.Apics.BaseMsr);
        Assert.Equal(0x0005_0014UL, _rig.Mmio.Read(0xFED0_0030, 4));
        Assert.Equal(0xFFFF_FFFFUL, _rig.Mmio.Read(ApicTestRig.Lapic + 0x30, 4)); // nothing there any more

        _rig.Write(L.RegLvtLint0, L.LvtMasked);                 // (at the old address: ignored)
        Assert.True(_rig.Apics.TryWriteBaseMsr(0xFED0_0000));    // globally disabled
        Assert.False(_rig.Apics.Enabled);
        Assert.Equal(0xFFFF_FFFFUL, _rig.Mmio.Read(0xFED0_0030, 4));
        _rig.InitPicLikeBios();
        _rig.Apics.SetIrq(3, true);
        Assert.Equal(0x0B, _rig.Apics.AcknowledgeInterrupt());

        Assert.True(_rig.Apics.TryWriteBaseMsr(0xFEE0_0800));    // back, in its power-up state
        Assert.Equal(0xFFu, _rig.Read(L.RegSvr));
    }
}
