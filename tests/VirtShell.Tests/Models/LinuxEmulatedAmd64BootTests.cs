using Xunit.Abstractions;

namespace VirtShell.Tests.Models;

/// <summary>
/// machine-defs/linux-emulated.js: Debian's unmodified amd64 kernel (its vmlinux, started at the 64-bit entry) on the
/// interpreter, to a busybox shell that answers <c>uname -a</c>. Part of the default test run; skipped where
/// scripts/linux/Get-DebianKernel.ps1 and New-BusyboxInitramfs.ps1 have not made the files.
/// </summary>
[Collection(EmulatedLinuxCollection.Name)]
public class LinuxEmulatedAmd64BootTests(ITestOutputHelper output)
{
    public const string Kernel = "out/linux/vmlinux", Initramfs = "out/linux/initramfs.cpio.gz";

    public sealed class Amd64GuestFactAttribute : FactAttribute
    {
        public Amd64GuestFactAttribute()
        {
            var missing = new[] { Kernel, Initramfs }.Where(f => !File.Exists(Path.Combine(RepoPaths.Root, f))).ToArray();
            if (missing.Length > 0)
                Skip = $"{string.Join(" and ", missing)} missing: scripts/linux/Get-DebianKernel.ps1 and New-BusyboxInitramfs.ps1 make them from Debian packages";
        }
    }

    [Amd64GuestFact]
    public void Debian_amd64_boots_on_the_emulated_model_to_a_shell_that_answers_uname() =>
        LinuxGuestBoot.BootToUname("linux-emulated.js", "x86_64", TimeSpan.FromMinutes(10), output);
}
