using Xunit.Abstractions;

namespace VirtShell.Tests.Models;

/// <summary>
/// machine-defs/linux-emulated-i386.js: Debian's unmodified 686 kernel on the interpreter, from its bzImage to a busybox
/// shell that answers <c>uname -a</c>. About a minute, so it is part of the default test run; build.ps1 -Task Test
/// fetches the kernel and makes the initramfs first (scripts/linux/), and where they could not be had it is skipped.
/// </summary>
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

    [I386GuestFact]
    public void Debian_i386_boots_on_the_emulated_model_to_a_shell_that_answers_uname() =>
        LinuxGuestBoot.BootToUname("linux-emulated-i386.js", "i[3-6]86", TimeSpan.FromMinutes(10), output);
}
