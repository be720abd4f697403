using VirtShell.Tests.Models;
using Xunit.Abstractions;

namespace VirtShell.Tests.Kvm.Boot;

/// <summary>
/// machine-defs/linux-hardware.js and linux-paravirtual.js boot Debian's kernel to a busybox shell, and their hook types
/// <c>uname -a</c>. Ring-0 code is emulated on these hosts, so a boot takes many minutes: these run only with
/// VIRTSHELL_LINUX=1, for at most VIRTSHELL_LINUX_MINUTES (60), and need the files scripts/linux/ makes (see the
/// definitions). <see cref="LinuxGuestBoot"/> says what is asserted and where the console goes.
/// </summary>
[Collection(KvmCollection.Name)]
public class LinuxDefinitionBootTests(ITestOutputHelper output)
{
    public sealed class LinuxBootFactAttribute : FactAttribute
    {
        public LinuxBootFactAttribute()
        {
            if (Environment.GetEnvironmentVariable("VIRTSHELL_LINUX") != "1")
                Skip = "a long test (a Linux boot takes many minutes with ring 0 emulated): set VIRTSHELL_LINUX=1 to run it";
            else if (new KvmFactAttribute().Skip is { } reason) Skip = reason;
        }
    }

    [LinuxBootFact]
    public void Linux_boots_on_the_hardware_model_to_a_shell_that_answers_uname() => Boot("linux-hardware.js", "out/linux/initramfs.cpio.gz");

    [LinuxBootFact]
    public void Linux_boots_on_the_paravirtual_model_with_a_virtio_console_to_a_shell_that_answers_uname() =>
        Boot("linux-paravirtual.js", "out/linux/initramfs-virtio.cpio.gz");

    private void Boot(string definition, string initramfs)
    {
        foreach (var file in new[] { "out/linux/vmlinux", initramfs })
            if (!File.Exists(Path.Combine(RepoPaths.Root, file)))
                throw new InvalidOperationException($"{file} is missing: make it with scripts/linux/Get-DebianKernel.ps1 and New-BusyboxInitramfs.ps1 (see machine-defs/{definition})");
        var minutes = double.Parse(Environment.GetEnvironmentVariable("VIRTSHELL_LINUX_MINUTES") ?? "60");
        LinuxGuestBoot.BootToUname(definition, "x86_64", TimeSpan.FromMinutes(minutes), output);
    }
}
