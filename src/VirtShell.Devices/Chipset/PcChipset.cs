using VirtShell.Devices.Apic;
using VirtShell.Engine.Buses;
using VirtShell.Devices.Pci;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Interrupts;

namespace VirtShell.Devices;

/// <summary>
/// The chips every emulated PC has whatever its definition says: the 8259 pair, the 8254 and port 0x61
/// (<see cref="Ports"/>, which a hypervisor's in-kernel chipset may replace), the board's CMOS clock, keyboard
/// controller and PCI host bridge (<see cref="BoardPorts"/>), and with the emulated model's interpreter the local and
/// I/O APICs. A model registers them first so a definition's device
/// on top of them is reported as an overlap before boot.
/// </summary>
public static class PcChipset
{
    // Each chip's ports, claimed once here: the chip registers its own, the lists below are made of them.
    public static readonly BusClaim MasterPic = new(0x20, 2, "8259 PIC (master)");
    public static readonly BusClaim SlavePic = new(0xA0, 2, "8259 PIC (slave)");
    public static readonly BusClaim Pit = new(0x40, 4, "8254 PIT");
    public static readonly BusClaim SystemControl = new(0x61, 1, "system control port B (PIT channel 2 gate, speaker)");
    public static readonly BusClaim Rtc = new(0x70, 2, "CMOS RTC");
    public static readonly BusClaim KeyboardData = new(0x60, 1, "i8042 keyboard controller (data)");
    public static readonly BusClaim KeyboardCommand = new(0x64, 1, "i8042 keyboard controller (status, command)");

    public static IReadOnlyList<BusClaim> Ports { get; } = [MasterPic, SlavePic, Pit, SystemControl];

    public static IReadOnlyList<BusClaim> BoardPorts { get; } = [Rtc, KeyboardData, KeyboardCommand, PciHostBridge.ConfigPorts];

    /// <summary>Builds the PIC pair, the PIT (channel 0 on IRQ 0) and port 0x61, and registers them. The caller disposes the PIT.</summary>
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

    /// <summary>The vector bases a PC BIOS gives the 8259 pair: IRQ 0–7 at 08h, IRQ 8–15 at 70h.</summary>
    public const byte BiosMasterVectorBase = 0x08, BiosSlaveVectorBase = 0x70;

    /// <summary>
    /// Programs the 8259 pair through its ports as a PC BIOS does before it boots anything: edge-triggered, cascaded
    /// on IR2, 8086 mode, vectors at <see cref="BiosMasterVectorBase"/> and <see cref="BiosSlaveVectorBase"/>, every
    /// line unmasked as the initialization leaves it. For boot paths that skip the firmware but start code written for
    /// a BIOS-booted PC (Multiboot: GRUB runs after the BIOS), which may raise an IRQ in real mode and expect its
    /// BIOS vector.
    /// </summary>
    public static void InitializePicsAsBios(IoPortBus ports)
    {
        foreach (var (port, vectorBase, cascade) in new[] { ((ushort)MasterPic.Start, BiosMasterVectorBase, (byte)0x04), ((ushort)SlavePic.Start, BiosSlaveVectorBase, (byte)0x02) })
        {
            ports.Write(port, 1, 0x11);                    // ICW1: edge, cascade, ICW4 follows
            ports.Write((ushort)(port + 1), 1, vectorBase); // ICW2
            ports.Write((ushort)(port + 1), 1, cascade);    // ICW3: slave on IR2 / slave identity 2
            ports.Write((ushort)(port + 1), 1, 0x01);       // ICW4: 8086 mode
        }
    }

    private static Pit8254 AttachPit(IoPortBus ports, IInterruptController irq)
    {
        var pit = new Pit8254(irq);
        try
        {
            pit.Register(ports);
            new SystemControlPort(pit).Register(ports);
        }
        catch
        {
            pit.Dispose();
            throw;
        }
        return pit;
    }

    /// <summary>
    /// Puts the board's devices on a PC whose interrupt controller exists: the CMOS RTC (IRQ 8, NVRAM for
    /// <paramref name="ramBytes"/> of RAM), the i8042 (IRQ 1 and 12; its reset pulse calls <paramref name="reset"/>)
    /// and the PCI host bridge — with <paramref name="i440fx"/>, the i440FX and PIIX3 a BIOS expects (<see cref="I440fx"/>).
    /// Returns the RTC, which the caller disposes.
    /// </summary>
    public static CmosRtc AttachBoard(DeviceContext context, ulong ramBytes, Action reset, bool i440fx = false)
    {
        var rtc = new CmosRtc(context.Interrupts, ramBytes);
        try
        {
            rtc.Register(context.Ports);
            new I8042(context.Interrupts, reset).Register(context.Ports);
            if (i440fx) I440fx.Attach(context);
            else PciHostBridge.For(context);
        }
        catch
        {
            rtc.Dispose();
            throw;
        }
        return rtc;
    }
}
