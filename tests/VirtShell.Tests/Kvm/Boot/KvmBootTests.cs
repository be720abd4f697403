using VirtShell.Engine.Boot;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;

namespace VirtShell.Tests.Kvm.Boot;

/// <summary>What the backend-neutral loaders produce boots on KVM as it is.</summary>
[Collection(KvmCollection.Name)]
public class KvmBootTests
{
    [KvmFact]
    public void A_multiboot_kernel_sees_the_magic_its_command_line_and_its_modules()
    {
        using var files = new BootTestImages();
        using var m = new KvmTestMachine(4 << 20);
        var spec = new BootSpec
        {
            Kind = BootKind.Multiboot,
            Image = files.Write("k.elf", BootTestImages.MultibootElf()),
            CommandLine = "hi",
            Modules = [new BootModule { Path = files.Write("m", [0x5A]) }],
        };
        m.Cpu.SetState(new MultibootLoader().Load(spec, m.Memory));
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal(new uint[] { 'h', 'i', 1, 0x5A }, m.Recorder.Writes.Select(w => w.Value));
    }

    [KvmFact]
    public void A_linux_kernel_entered_at_32_bits_finds_the_zero_page_in_esi()
    {
        using var files = new BootTestImages();
        using var m = new KvmTestMachine(8 << 20);
        var spec = new BootSpec
        {
            Kind = BootKind.Linux,
            Image = files.Write("bzImage", BootTestImages.TinyBzImage()),
            Initrd = files.Write("initrd", [0x77, 0x66]),
            CommandLine = "ok",
        };
        m.Cpu.SetState(new LinuxBootLoader().Load(spec, m.Memory));
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal(new uint[] { 'o', 'k', 3, 0x77 }, m.Recorder.Writes.Select(w => w.Value));
    }

    [KvmFact]
    public void A_linux_kernel_entered_at_64_bits_runs_in_long_mode()
    {
        using var files = new BootTestImages();
        using var m = new KvmTestMachine(8 << 20);
        var spec = new BootSpec { Kind = BootKind.Linux, Mode = CpuStartMode.Long, Image = files.Write("bzImage", BootTestImages.TinyBzImage()), CommandLine = "64" };
        m.Cpu.SetState(new LinuxBootLoader().Load(spec, m.Memory));
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal(new uint[] { 'L', '6', '4' }, m.Recorder.Writes.Select(w => w.Value));
        Assert.Equal(0x500UL, m.Cpu.GetState().Efer & 0x500);
    }

    [KvmFact]
    public void A_vmlinux_runs_from_its_physical_address_in_long_mode()
    {
        using var files = new BootTestImages();
        using var m = new KvmTestMachine(8 << 20);
        var spec = new BootSpec { Kind = BootKind.Linux, Mode = CpuStartMode.Long, Image = files.Write("vmlinux", BootTestImages.TinyVmlinux()), CommandLine = "vm" };
        m.Cpu.SetState(new LinuxBootLoader().Load(spec, m.Memory));
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal(new uint[] { 'V', 'v', 'm', 0 }, m.Recorder.Writes.Select(w => w.Value));
    }
}
