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

    /// <summary>
    /// A definition, in a folder of its own, booting this guest through OpenSBI with <paramref name="devices"/> (whose
    /// constructors besides uart16550 <paramref name="imports"/> names), the kernel command line and, optionally, hooks.
    /// </summary>
    internal static string Definition(string name, string imports, string devices, string cmdline, string hooks = "")
    {
        string definition = Path.Combine(Directory.CreateTempSubdirectory("virtshell-riscv-").FullName, name + ".js");
        File.WriteAllText(definition, $$"""
            import { machine, uart16550{{(imports == "" ? "" : ", " + imports)}} } from 'virtshell';
            export default machine({
              name: '{{name}}', model: 'emulated', arch: 'riscv64', memory: '256M',
              devices: [ {{devices}} ],
              boot: {
                type: 'firmware', image: '{{OpenSbiBootTests.FwJump}}',
                kernel: '{{Path.Combine(RepoPaths.Root, Image)}}', initrd: '{{Path.Combine(RepoPaths.Root, Initramfs)}}',
                cmdline: '{{cmdline}}',
              },
              {{hooks}}
            });
            """);
        return definition;
    }

    [RiscvLinuxFact]
    public void OpenSbi_boots_Linux_to_a_shell_that_answers_uname()
    {
        string console = OpenSbiBootTests.RunUntil(Path.Combine(RepoPaths.Root, "machine-defs/linux-riscv64.js"), " riscv64 GNU/Linux",
            TimeSpan.FromMinutes(10));
        Assert.Contains("OpenSBI v1.1", console);
        Assert.Contains("Linux version 6.1", console);
        Assert.Matches(@"Linux \S+ 6\.1\.\d+\S* .* riscv64 GNU/Linux", console);
        // OpenSBI found stimecmp and enabled it; the kernel, told by the device tree, programs its timer without SBI calls.
        Assert.Contains("Timer interrupt in S-mode is available via sstc extension", console);
    }

    /// <summary>
    /// The same guest with its console on virtio-mmio (the transport and virtio-console the paravirtual model uses):
    /// the kernel's virtio_mmio driver finds the device in the device tree, and the shell runs on hvc1 (hvc0 is the
    /// SBI console).
    /// </summary>
    [RiscvLinuxFact]
    public void The_shell_answers_on_a_virtio_console()
    {
        string definition = Definition("linux-riscv64-virtio", "virtioConsole",
            "uart16550({ address: 0x10000000, irq: 10, earlyConsole: true }), virtioConsole({ address: 0x10001000, irq: 1 })",
            "console=hvc1 earlycon=sbi panic=-1 rdinit=/init",
            "hooks: { onConsoleLine(vm, line) { if (line.startsWith('virtshell-init: shell on')) vm.console.send('uname -a\\n'); } },");
        try
        {
            string console = OpenSbiBootTests.RunUntil(definition, " riscv64 GNU/Linux", TimeSpan.FromMinutes(10));
            Assert.Contains("printk: console [hvc1] enabled", console);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(definition)!, recursive: true);
        }
    }
}
