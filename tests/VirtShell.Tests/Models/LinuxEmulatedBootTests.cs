using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace VirtShell.Tests.Models;

/// <summary>
/// machine-defs/linux-emulated-i386.js: Debian's unmodified 686 kernel on the interpreter, from its bzImage to a busybox
/// shell that answers <c>uname -a</c>. A few minutes (it is given 30 for a loaded host), so it is part of the default
/// test run; build.ps1 -Task Test fetches the kernel and makes the initramfs first (scripts/linux/), and where they
/// could not be had it is skipped.
/// </summary>
[Collection(EmulatedLinuxCollection.Name)]
public class LinuxEmulatedBootTests(ITestOutputHelper output)
{
    public const string Kernel = "out/linux/bzImage-686", Initramfs = "out/linux/initramfs-i386.cpio";

    public sealed class I386GuestFactAttribute : FactAttribute
    {
        public I386GuestFactAttribute()
        {
            var missing = new[] { Kernel, Initramfs }.Where(f => !File.Exists(Path.Combine(RepoPaths.Root, f))).ToArray();
            if (missing.Length > 0)
                Skip = $"{string.Join(" and ", missing)} missing: scripts/linux/Get-DebianKernel.ps1 -Flavour 686 and " +
                       "New-BusyboxInitramfs.ps1 -Architecture i386 -NoCompression make them from Debian packages (build.ps1 -Task Test runs them)";
        }
    }

    /// <summary>
    /// What the kernel finds of the PC: the board's devices and the APICs, with no command-line switch to avoid them.
    /// Not the TSC calibration: Linux rejects it when one read of port 0x61 takes ten times another, which a host
    /// busy with other work causes often enough to make a test of it fail by chance (the transcript shows it).
    /// </summary>
    private static readonly (string, Regex)[] FoundDevices =
    [
        ("the RTC's time", new Regex(@"rtc_cmos rtc_cmos: setting system clock to \d{4}-\d\d-\d\d")),
        ("the i8042", new Regex(@"serio: i8042 KBD port at 0x60,0x64 irq 1")),
        ("PCI", new Regex(@"PCI: Using configuration type 1 for base access")),
        ("the I/O APIC", new Regex(@"IOAPIC\[0\]: apic_id \d+, version \d+, address 0xfec00000")),
    ];

    [I386GuestFact]
    public void Debian_i386_boots_on_the_emulated_model_to_a_shell_that_answers_uname() =>
        LinuxGuestBoot.BootToUname("linux-emulated-i386.js", "i[3-6]86", TimeSpan.FromMinutes(30), output, FoundDevices);
}
