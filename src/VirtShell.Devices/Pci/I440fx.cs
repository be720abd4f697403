using VirtShell.Engine.Devices;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Pci;

/// <summary>
/// The PCI identity of QEMU's <c>pc</c> machine, which BIOSes look for: an i440FX host bridge at 00:00.0 (8086:1237),
/// the PIIX3 ISA bridge at 00:01.0 (8086:7000) and its IDE function at 00:01.1 (8086:7010, legacy mode: the primary
/// channel at 0x1F0/0x3F6, IRQ 14, no bus-master BAR). All carry QEMU's subsystem 1AF4:1100, by which SeaBIOS knows
/// it runs on QEMU and reads fw_cfg. Their chipset registers (the host bridge's PAM and SMRAM bytes, the ISA
/// bridge's PIRQ routes, the IDE timings) are stored as written and change nothing: the BIOS area below 1 MiB is
/// RAM already (see FirmwareLoader), and interrupts are wired as on the PC board whatever the routes say.
/// </summary>
public static class I440fx
{
    public const int PiixSlot = 1;
    private const ushort Intel = 0x8086, QemuSubsystemVendor = 0x1AF4, QemuSubsystem = 0x1100;

    /// <summary>Makes the machine's PCI host bridge an i440FX with a PIIX3 beside it.</summary>
    public static PciHostBridge Attach(DeviceContext context)
    {
        var bridge = PciHostBridge.For(context, new HostBridge());
        bridge.Add(PiixSlot, new IsaBridge(), 0);
        bridge.Add(PiixSlot, new Ide(), 1);
        return bridge;
    }

    /// <summary>Configuration registers only: all their state is the configuration space.</summary>
    private abstract class ChipsetFunction(ushort device, uint classCode, byte revision)
        : PciFunction(Intel, device, classCode, revision, QemuSubsystemVendor, QemuSubsystem, null, -1), IStatelessDevice
    {
        public override ulong ReadBar(int bar, ulong offset, int size) => 0;
        public override void WriteBar(int bar, ulong offset, int size, ulong value) { }
    }

    private sealed class HostBridge : ChipsetFunction
    {
        private const int Pam0 = 0x59, PamCount = 7, Smram = 0x72;

        public HostBridge() : base(0x1237, 0x060000, 0x02)
        {
            AllowGuestWrites(Pam0, PamCount);
            AllowGuestWrites(Smram, 1);
        }
    }

    private sealed class IsaBridge : ChipsetFunction
    {
        private const int FirstChipsetRegister = 0x40;

        public IsaBridge() : base(0x7000, 0x060100, 0x00)
        {
            MarkMultiFunction();
            AllowGuestWrites(FirstChipsetRegister, ConfigSize - FirstChipsetRegister);
        }
    }

    private sealed class Ide : ChipsetFunction
    {
        private const int IdeTimings = 0x40, IdeTimingBytes = 8;

        /// <summary>Programming interface 0x80: bus-master capable, both channels in compatibility mode.</summary>
        public Ide() : base(0x7010, 0x010180, 0x00) => AllowGuestWrites(IdeTimings, IdeTimingBytes);
    }
}
