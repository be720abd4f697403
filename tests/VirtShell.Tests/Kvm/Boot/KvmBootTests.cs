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

    [KvmFact]
    public void Fwait_and_an_int3_in_a_64_bit_kernel_run_as_on_the_cpu_where_kvms_emulator_lacks_them()
    {
        // On hosts that are VMs KVM's emulator runs ring 0 and cannot deliver INT3 there; the backend does. Elsewhere
        // the CPU does. Either way the kernel's handler runs once, on the stack the gate asks for, and IRETQ returns.
        using var files = new BootTestImages();
        using var m = new KvmTestMachine(8 << 20);
        var kernel = BootTestImages.Vmlinux("""
                mov rax, breakpoint
                mov [idt + 3 * 16], ax
                mov word [idt + 3 * 16 + 2], 0x10
                mov word [idt + 3 * 16 + 4], 0x8E00     ; present interrupt gate, DPL 0, no IST
                shr rax, 16
                mov [idt + 3 * 16 + 6], ax
                shr rax, 16
                mov [idt + 3 * 16 + 8], eax
                lidt [idtr]
                mov rsp, 0x200000
                fwait                                   ; nothing pending: a no-op, wherever it runs
                int3
            after_int3:
                mov al, 'A'
                out 0x80, al
                mov rax, rsp
                shr rax, 8
                out 0x80, al                            ; 0x00: the stack is back where it was
                out 0xf4, al
            breakpoint:
                mov al, 'B'
                out 0x80, al
                mov rax, [rsp]
                sub rax, after_int3
                out 0x80, al                            ; 0: the frame's RIP is the instruction after INT3
                iretq
            align 16
            idt: times 4 * 16 db 0
            idtr: dw 4 * 16 - 1
                  dq idt
            """);
        var spec = new BootSpec { Kind = BootKind.Linux, Mode = CpuStartMode.Long, Image = files.Write("vmlinux", kernel) };
        m.Cpu.SetState(new LinuxBootLoader().Load(spec, m.Memory));
        var exit = m.RunToExit();
        Assert.True(exit.Reason == CpuExitReason.ExitRequested, $"{exit.Reason}: {exit.Detail}");
        Assert.Equal(new uint[] { 'B', 0, 'A', 0 }, m.Recorder.Writes.Select(w => w.Value));
        Assert.InRange(m.Cpu.CompletedUnemulated, 0, 2);
    }
}
