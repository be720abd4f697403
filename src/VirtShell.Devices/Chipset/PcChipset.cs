using VirtShell.Devices.Apic;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;

namespace VirtShell.Devices;

/// <summary>
/// The chips every emulated PC has whatever its definition says: the 8259 pair and the 8254, and with the emulated
/// model's interpreter the local and I/O APICs. A model registers <see cref="Ports"/> first so a definition's device
/// on top of them is reported as an overlap before boot.
/// </summary>
public static class PcChipset
{
    public static readonly (ushort First, int Count, string Owner) MasterPic = (0x20, 2, "8259 PIC (master)");
    public static readonly (ushort First, int Count, string Owner) SlavePic = (0xA0, 2, "8259 PIC (slave)");
    public static readonly (ushort First, int Count, string Owner) Pit = (0x40, 4, "8254 PIT");

    public static IReadOnlyList<(ushort First, int Count, string Owner)> Ports { get; } = [MasterPic, SlavePic, Pit];

    /// <summary>Builds the PIC pair and the PIT (channel 0 on IRQ 0) and registers both. The caller disposes the PIT.</summary>
    public static (Pic8259Pair Pic, Pit8254 Pit) Attach(IoPortBus ports, WakeSignal wake)
    {
        var pic = new Pic8259Pair(wake);
        pic.Register(ports);
        return (pic, AttachPit(ports, pic));
    }

    /// <summary>
    /// The PIC pair, a local APIC and an I/O APIC (<see cref="ApicChipset"/>, in virtual wire mode), and the PIT, whose
    /// IRQ 0 reaches both interrupt controllers. The caller disposes the PIT and the APICs.
    /// </summary>
    public static (ApicChipset Apics, Pit8254 Pit) AttachWithApics(IoPortBus ports, MmioBus mmio, WakeSignal wake)
    {
        var pic = new Pic8259Pair(wake);
        pic.Register(ports);
        var apics = new ApicChipset(pic, wake, mmio);
        try
        {
            apics.Register();
            return (apics, AttachPit(ports, apics));
        }
        catch
        {
            apics.Dispose();
            throw;
        }
    }

    private static Pit8254 AttachPit(IoPortBus ports, IInterruptController irq)
    {
        var pit = new Pit8254(irq);
        try
        {
            pit.Register(ports);
        }
        catch
        {
            pit.Dispose();
            throw;
        }
        return pit;
    }
}
