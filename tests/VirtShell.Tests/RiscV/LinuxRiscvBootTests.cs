using VirtShell.Tests.Models;

namespace VirtShell.Tests.RiscV;

/// <summary>
/// machine-defs/linux-riscv64.js: OpenSBI, then Linux cross-built from Debian's linux-source, then the initramfs's
/// shell answering `uname -a` with riscv64, all on the RISC-V interpreter.
/// </summary>
public sealed class LinuxRiscvBootTests
{
    private const string Image = "out/linux-riscv64/Image", Initramfs = "out/linux-riscv64/initramfs.cpio";

    /// <summary>Skips when the kernel or initramfs has not been built (scripts/linux/Build-RiscvKernel.ps1, New-RiscvInitramfs.ps1).</summary>
    public sealed class RiscvLinuxFactAttribute : FactAttribute
    {
        public RiscvLinuxFactAttribute()
        {
            foreach (var file in new[] { Image, Initramfs })
                if (!File.Exists(Path.Combine(RepoPaths.Root, file)))
                    Skip ??= $"{file} is missing: run scripts/linux/Build-RiscvKernel.ps1 and scripts/linux/New-RiscvInitramfs.ps1";
            if (!File.Exists(OpenSbiBootTests.FwJump)) Skip ??= $"{OpenSbiBootTests.FwJump} missing: apt-get install opensbi";
        }
    }

    [RiscvLinuxFact]
    public void OpenSbi_boots_Linux_to_a_shell_that_answers_uname()
    {
        string console = OpenSbiBootTests.RunUntil(Path.Combine(RepoPaths.Root, "machine-defs/linux-riscv64.js"), " riscv64 GNU/Linux",
            TimeSpan.FromMinutes(10));
        Assert.Contains("OpenSBI v1.1", console);
        Assert.Contains("Linux version 6.1", console);
        Assert.Matches(@"Linux \S+ 6\.1\.\d+\S* .* riscv64 GNU/Linux", console);
    }
}
