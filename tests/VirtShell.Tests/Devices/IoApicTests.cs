using Xunit;
using L = VirtShell.Devices.Apic.LocalApic;

namespace VirtShell.Tests.Devices;

/// <summary>The I/O APIC through IOREGSEL/IOWIN, with ISA lines raised as devices raise them.</summary>
public sealed class IoApicTests : IDisposable
{
    private const uint Masked = 1 << 16, Level = 1 << 15, RemoteIrr = 1 << 14, Logical = 1 << 11;

    private readonly ApicTestRig _rig = new();

    public IoApicTests() => _rig.Write(L.RegLvtLint0, L.LvtMasked | 0x700); // the 8259 out of the way, as an APIC OS does

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void It_has_24_pins_all_masked_and_the_id_its_mp_table_entry_names()
    {
        Assert.Equal(0x0017_0011u, _rig.ReadIo(1));
        Assert.Equal(0x0100_0000u, _rig.ReadIo(0));
        for (int pin = 0; pin < 24; pin++) Assert.Equal(Masked, _rig.ReadIo(0x10 + 2 * pin));
        _rig.WriteIo(0x10 + 2 * 5 + 1, 0xFFFF_FFFF);
        Assert.Equal(0xFF00_0000u, _rig.ReadIo(0x10 + 2 * 5 + 1));
    }

    [Fact]
    public void An_edge_triggered_isa_irq_reaches_its_vector_and_irq0_arrives_on_pin_2()
    {
        _rig.Redirect(4, 0x34);
        _rig.Redirect(2, 0x20);
        _rig.Apics.SetIrq(4, true);
        Assert.Equal(0x34, _rig.Apics.AcknowledgeInterrupt());
        _rig.Apics.SetIrq(4, true);                              // no new edge, no new interrupt
        Assert.False(_rig.Apics.HasPendingInterrupt);
        _rig.Eoi();

        _rig.Apics.SetIrq(0, true);
        Assert.Equal(0x20, _rig.Apics.AcknowledgeInterrupt());
        Assert.False(_rig.Bit(L.RegTmr, 0x20));                  // edge
    }

    [Fact]
    public void A_masked_pin_delivers_nothing_and_one_for_another_apic_neither()
    {
        _rig.Redirect(6, Masked | 0x36);
        _rig.Apics.SetIrq(6, true);
        Assert.False(_rig.Apics.HasPendingInterrupt);

        _rig.Redirect(7, 0x37, destination: 3);                 // physical APIC 3: not ours
        _rig.Apics.SetIrq(7, true);
        Assert.False(_rig.Apics.HasPendingInterrupt);

        _rig.Write(L.RegLdr, 0x0100_0000);                       // flat logical: this CPU is bit 0
        _rig.Redirect(5, Logical | 0x35, destination: 0x01);
        _rig.Apics.SetIrq(5, true);
        Assert.Equal(0x35, _rig.Apics.AcknowledgeInterrupt());
    }

    [Fact]
    public void A_level_triggered_pin_holds_remote_irr_until_eoi_and_delivers_again_while_asserted()
    {
        _rig.Redirect(10, Level | 0x3A);
        _rig.Apics.SetIrq(10, true);
        Assert.Equal(0x3A, _rig.Apics.AcknowledgeInterrupt());
        Assert.True(_rig.Bit(L.RegTmr, 0x3A));
        Assert.Equal(RemoteIrr, _rig.ReadIo(0x10 + 20) & RemoteIrr);
        Assert.False(_rig.Apics.HasPendingInterrupt);           // remote IRR holds it back

        _rig.Eoi();                                              // still asserted: delivered again
        Assert.Equal(RemoteIrr, _rig.ReadIo(0x10 + 20) & RemoteIrr);
        Assert.Equal(0x3A, _rig.Apics.AcknowledgeInterrupt());

        _rig.Apics.SetIrq(10, false);
        _rig.Eoi();
        Assert.Equal(0u, _rig.ReadIo(0x10 + 20) & RemoteIrr);
        Assert.False(_rig.Apics.HasPendingInterrupt);
    }

    [Fact]
    public void Unmasking_an_asserted_level_pin_delivers_it()
    {
        _rig.Redirect(11, Masked | Level | 0x3B);
        _rig.Apics.SetIrq(11, true);
        Assert.False(_rig.Apics.HasPendingInterrupt);
        _rig.Redirect(11, Level | 0x3B);
        Assert.Equal(0x3B, _rig.Apics.AcknowledgeInterrupt());
    }
}
