using System.Text.RegularExpressions;
using VirtShell.Devices;
using VirtShell.Tests.Models;
using Xunit.Abstractions;

namespace VirtShell.Tests.Firmware;

/// <summary>
/// machine-defs/pc-bios-disk.js and pc-bochs-bios-disk.js: SeaBIOS or the Bochs BIOS from the reset vector, syslinux
/// from the ATA disk, Debian's 686 kernel and the busybox initramfs it loads, to a shell that answers <c>uname -a</c>.
/// Part of the default run, beside the other emulated Linux boots; skipped when the disk image or the BIOS is missing.
/// </summary>
[Collection(EmulatedLinuxCollection.Name)]
public class BiosLinuxBootTests(ITestOutputHelper output)
{
    public const string Disk = "out/linux/bios-disk.img";

    public sealed class BiosDiskFactAttribute : FactAttribute
    {
        public BiosDiskFactAttribute(string bios, string package)
        {
            if (!File.Exists(Path.Combine(RepoPaths.Root, Disk)))
                Skip = $"{Disk} missing: scripts/linux/New-BiosDiskImage.ps1 makes it from Debian packages (build.ps1 -Task Test runs it)";
            else if (!File.Exists(bios))
                Skip = $"{bios} missing: apt-get install {package}";
        }

        /// <summary>A BIOS and an option ROM the definition adds, each from its package.</summary>
        public BiosDiskFactAttribute(string bios, string package, string rom, string romPackage) : this(bios, package)
        {
            if (!File.Exists(rom)) Skip ??= $"{rom} missing: apt-get install {romPackage}";
        }
    }

    /// <summary>What shows that the firmware and the boot loader did their part, not a loader of ours.</summary>
    private static (string, Regex)[] Boot(Regex bios) =>
    [
        ("the BIOS", bios),
        ("SYSLINUX on COM1", new Regex(@"^SYSLINUX \d")),
        // RAM from 1 MiB to the top of the 256 MiB, less what the Bochs BIOS keeps at the top for ACPI.
        ("the BIOS's e820 map", new Regex(@"BIOS-e820: \[mem 0x0000000000100000-0x000000000ff[0-9a-f]{5}\] usable")),
        ("the BIOS's MP table", new Regex(@"found SMP MP-table at \[mem 0x000f")),
    ];

    [BiosDiskFact(BiosBootSectorTests.SeaBios, "seabios")]
    public void SeaBios_boots_syslinux_and_Linux_from_the_ata_disk_to_a_shell() =>
        LinuxGuestBoot.BootToUname("pc-bios-disk.js", "i[3-6]86", TimeSpan.FromMinutes(30), output, Boot(new Regex(@"^SeaBIOS \(version")));

    [BiosDiskFact(BiosBootSectorTests.BochsBios, "bochsbios", VgaTextDeviceType.DefaultRom, "vgabios")]
    public void BochsBios_boots_syslinux_and_Linux_from_the_ata_disk_to_a_shell() =>
        LinuxGuestBoot.BootToUname("pc-bochs-bios-disk.js", "i[3-6]86", TimeSpan.FromMinutes(30), output,
            [.. Boot(new Regex(@"Starting rombios32")), ("the BIOS's screen through vgaText", new Regex(@"^Booting from Hard Disk\.\.\.$"))]);
}
