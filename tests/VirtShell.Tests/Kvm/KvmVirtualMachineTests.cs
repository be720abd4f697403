using VirtShell.Engine.Memory;
using VirtShell.Cpu.Kvm;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Interrupts;

namespace VirtShell.Tests.Kvm;

[Collection(KvmCollection.Name)]
public class KvmVirtualMachineTests
{
    [KvmFact]
    public unsafe void The_guest_runs_in_the_engines_own_memory_blocks()
    {
        using var m = new KvmTestMachine();
        m.LoadRealMode("""
            mov byte [0x500], 0x99
            mov al, [0x600]
            out 0x80, al
            out 0xf4, al
            """);
        m.Memory.Blocks[0].Host[0x600] = 0x3C; // written behind KVM's back, straight into the block
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal(0x99, m.Memory.Blocks[0].Host[0x500]);
        Assert.Equal((1, 0x3Cu), m.Recorder.Writes.Single());
    }

    [KvmFact]
    public void A_device_interrupt_reaches_the_guest_through_the_in_kernel_pic()
    {
        using var m = new KvmTestMachine();
        m.Ports.Register(0x82, 1, new IrqPulser(m.Vm.Interrupts, 4), "irq pulser");
        m.LoadRealMode("""
            cli
            mov al, 0x11      ; ICW1: edge, cascade, ICW4
            out 0x20, al
            mov al, 0x08      ; ICW2: master vectors 0x08-0x0F
            out 0x21, al
            mov al, 0x04
            out 0x21, al
            mov al, 0x01
            out 0x21, al
            mov al, 0xEF      ; only IRQ 4
            out 0x21, al
            mov word [0x0C * 4], isr
            mov word [0x0C * 4 + 2], 0
            out 0x82, al      ; the device raises IRQ 4 now; it is delivered once interrupts are on
            sti
            idle: hlt
            jmp idle
            isr:
            mov al, 0x44
            out 0x80, al
            mov al, 0x20
            out 0x20, al
            out 0xf4, al
            iret
            """);
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal((1, 0x44u), m.Recorder.Writes.Single());
    }

    [KvmFact]
    public void Opening_and_closing_a_hundred_machines_leaks_no_descriptor_or_mapping()
    {
        var guest = KvmTestMachine.AssembleRealMode("out 0xf4, al");
        using (new KvmTestMachine()) { } // once-per-process set-up: the kick handler, the host's CPUID and MSR lists
        var before = OpenDescriptors();
        for (int i = 0; i < 100; i++)
        {
            using var m = new KvmTestMachine(0x10000);
            m.LoadRealMode(guest);
            Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        }
        var after = OpenDescriptors();
        // The test host opens and closes pipes of its own meanwhile; ours are the KVM ones, and a leak of anything
        // per machine would show as a hundred more.
        Assert.Equal(before.Where(IsKvm), after.Where(IsKvm));
        Assert.InRange(after.Length, 0, before.Length + 5);
        Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), l => l.Contains("kvm-vcpu"));
    }

    [KvmFact]
    public void Memory_beyond_what_kvm_maps_is_refused_naming_the_size_and_leaves_no_descriptor_open()
    {
        using (new KvmTestMachine()) { }
        var before = OpenDescriptors();
        using var memory = new GuestMemory();
        memory.AddRam(1UL << 44, 16UL << 40); // 16 TiB of address space, never touched; one KVM slot holds under 8 TiB
        var e = Assert.Throws<KvmException>(() => new KvmVirtualMachine(memory));
        Assert.Contains("cannot map the guest's 16777216 MiB of RAM at 0x100000000000", e.Message);
        Assert.Contains("give the machine less memory", e.Message);
        Assert.Equal(before.Where(IsKvm), OpenDescriptors().Where(IsKvm));
    }

    [KvmFact]
    public void Interrupt_lines_outside_the_irqchip_are_refused_and_a_closed_vm_ignores_late_ones()
    {
        var m = new KvmTestMachine();
        var irqs = m.Vm.Interrupts;
        Assert.Throws<ArgumentOutOfRangeException>(() => irqs.Connect(24));
        var line = irqs.Connect(4);
        m.Dispose();
        line.Set(true);
    }

    [Fact]
    public void Unavailability_says_why_in_words_a_user_can_act_on()
    {
        string dir = Directory.CreateTempSubdirectory("virtshell-kvm-").FullName;
        try
        {
            string notKvm = Path.Combine(dir, "kvm");
            File.WriteAllText(notKvm, "");
            Assert.Equal($"{dir}/none does not exist (no KVM module loaded, or no hardware virtualization on this host)",
                KvmHost.GetAvailability(Path.Combine(dir, "none")).Reason);
            var wrongFile = KvmHost.GetAvailability(notKvm);
            Assert.False(wrongFile.IsAvailable);
            Assert.StartsWith($"{notKvm} is not a KVM device", wrongFile.Reason);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>What each open descriptor is (the target of its /proc link).</summary>
    private static string[] OpenDescriptors() =>
        Directory.GetFiles("/proc/self/fd").Select(fd => new FileInfo(fd).LinkTarget ?? "?").Order().ToArray();

    private static bool IsKvm(string target) => target.Contains("kvm");

    private sealed class IrqPulser(IInterruptController interrupts, int irq) : IPortDevice
    {
        private readonly InterruptLine _line = interrupts.Connect(irq);

        public uint ReadPort(ushort port, int size) => 0;

        public void WritePort(ushort port, int size, uint value)
        {
            _line.Set(true);
            _line.Set(false);
        }
    }
}
