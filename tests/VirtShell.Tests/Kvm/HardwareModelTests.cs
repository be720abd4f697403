using System.Text;
using VirtShell.Cpu.Kvm;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Models;
using VirtShell.Models.Hardware;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Kvm;

/// <summary>The hardware model end to end, without the script loader: the hello guest on KVM with our UART.</summary>
[Collection(KvmCollection.Name)]
public class HardwareModelTests
{
    [KvmFact]
    public void The_hello_guest_greets_echoes_through_the_interrupt_driven_uart_and_powers_off()
    {
        var spec = HelloSpec();
        new HardwareModel().Validate(spec);
        using var guest = new GuestRun(spec);
        WaitForText(guest.Console, "'exit' powers off.\r\n");
        guest.Console.SendInput("hi there\r");
        WaitForText(guest.Console, "hi there\r\n");
        guest.Console.SendInput("exit\r");
        Assert.True(guest.Thread.Join(TimeSpan.FromSeconds(20)), "the guest did not power off");
        Assert.Equal(ExitReason.DebugExit, guest.Exit!.Reason);
        Assert.Equal(1, guest.Exit.Status);
        Assert.EndsWith("Goodbye.\r\n", Text(guest.Console));
        Assert.True(guest.Runtime.Measure().IoExits > 100, "every UART access is a port exit");
    }

    [KvmFact]
    public void A_guest_spinning_in_ring_0_with_interrupts_off_pauses_resumes_and_stops()
    {
        using var guest = new GuestRun(BootSectorSpec("cli\nspin: jmp spin"));
        Thread.Sleep(100);
        guest.Runtime.Pause(); // returns once the vCPU thread is parked outside KVM_RUN
        Assert.True(guest.Thread.IsAlive);
        guest.Runtime.Resume();
        guest.Runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser));
        Assert.True(guest.Thread.Join(TimeSpan.FromSeconds(5)), "the spinning guest did not stop");
        Assert.Equal(ExitReason.StoppedByUser, guest.Exit!.Reason);
    }

    [KvmFact]
    public void A_ring_0_spin_with_interrupts_off_is_turned_off_promptly_and_leaves_nothing_open()
    {
        var spec = BootSectorSpec("cli\nspin: jmp spin");
        using (new GuestRun(spec)) { } // once-per-process set-up: the kick handler, the host's CPUID and MSR lists
        var before = OpenDescriptors();
        var maps = File.ReadAllLines("/proc/self/maps").Length;
        var guest = new GuestRun(spec);
        Thread.Sleep(200);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        guest.Runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser)); // what Stop-VirtMachine -TurnOff asks
        Assert.True(guest.Thread.Join(TimeSpan.FromSeconds(2)), "the spinning guest did not stop within 2 s");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"stopping took {watch.Elapsed}");
        Assert.Equal(ExitReason.StoppedByUser, guest.Exit!.Reason);
        guest.Dispose();
        Assert.Equal(before.Where(t => t.Contains("kvm")), OpenDescriptors().Where(t => t.Contains("kvm")));
        Assert.InRange(OpenDescriptors().Length, 0, before.Length + 3);
        Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), l => l.Contains("kvm-vcpu"));
        Assert.InRange(File.ReadAllLines("/proc/self/maps").Length, 0, maps + 16); // the guest's RAM is unmapped
    }

    [Fact]
    public void Memory_past_what_the_pc_maps_is_a_definition_error_naming_memory_before_anything_opens()
    {
        var e = Assert.Throws<DefinitionException>(() => new HardwareModel().Validate(HelloSpec() with { MemoryBytes = 64UL << 30 }));
        Assert.Contains("memory must be between", e.Message);
        Assert.Contains("3 GiB", e.Message);
    }

    private static string[] OpenDescriptors() =>
        Directory.GetFiles("/proc/self/fd").Select(fd => new FileInfo(fd).LinkTarget ?? "?").Order().ToArray();

    [KvmFact]
    public void A_triple_fault_ends_the_machine_with_a_register_dump()
    {
        using var guest = new GuestRun(BootSectorSpec("""
            cli
            lgdt [gdt_descriptor]
            lidt [no_idt]
            mov eax, cr0
            or eax, 1
            mov cr0, eax
            jmp 0x08:pm
            bits 32
            pm: ud2
            align 8
            gdt: dq 0, 0x00cf9a000000ffff
            gdt_descriptor: dw 15
                            dd gdt
            no_idt: dw 0
                    dd 0
            """));
        Assert.True(guest.Thread.Join(TimeSpan.FromSeconds(20)), "the guest did not die");
        Assert.Equal(ExitReason.TripleFault, guest.Exit!.Reason);
        Assert.Contains("triple fault", guest.Exit.Detail);
        Assert.Contains("CR0=00000011", guest.Exit.Detail); // the dump: protected mode, where it died
    }

    [KvmFact]
    public void A_device_on_a_port_the_kernel_answers_is_refused_before_boot()
    {
        var spec = HelloSpec() with
        {
            Devices = [new DeviceSpec { Type = "debugExit", Settings = new Dictionary<string, object?> { ["port"] = 0x61L } }],
        };
        var error = Assert.Throws<DefinitionException>(() => new HardwareModel().Validate(spec));
        Assert.Contains("speaker", error.Message);
    }

    [Fact]
    public void The_catalog_lists_the_hardware_model_with_its_availability()
    {
        var model = ModelCatalog.CreateRegistry(Path.GetTempPath()).Find("hardware");
        Assert.IsType<HardwareModel>(model);
        Assert.Equal(KvmHost.GetAvailability(), model.GetAvailability());
    }

    /// <summary>A machine with only debug-exit whose boot sector is the given real-mode source (org 0x7C00).</summary>
    private static MachineSpec BootSectorSpec(string source)
    {
        string image = Path.Combine(Directory.CreateTempSubdirectory("virtshell-guest-").FullName, "guest.bin");
        var code = Nasm.Assemble("bits 16\norg 0x7c00\n" + source + "\ntimes 510 - ($ - $$) db 0\ndw 0xaa55\n");
        File.WriteAllBytes(image, code);
        return HelloSpec() with
        {
            Devices = [new DeviceSpec { Type = "debugExit", Settings = new Dictionary<string, object?> { ["port"] = 0xF4L } }],
            Boot = new BootSpec { Kind = BootKind.BootSector, Image = image },
        };
    }

    /// <summary>A hardware-model runtime running on a thread of its own; disposing stops it and releases everything.</summary>
    private sealed class GuestRun : IDisposable
    {
        public ConsoleChannel Console { get; } = new(null);
        public IMachineRuntime Runtime { get; }
        public Thread Thread { get; }
        public MachineExit? Exit { get; private set; }

        public GuestRun(MachineSpec spec)
        {
            IMachineRuntime? runtime = null;
            var services = new MachineServices(Console, exit => runtime!.RequestStop(exit), _ => { });
            Runtime = runtime = new HardwareModel().CreateRuntime(spec, services);
            Thread = new Thread(() => Exit = Runtime.Run());
            Thread.Start();
        }

        public void Dispose()
        {
            Runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser));
            Thread.Join();
            Runtime.Dispose();
            Console.Dispose();
        }
    }

    private static MachineSpec HelloSpec() => new()
    {
        Name = "hello",
        Model = "hardware",
        MemoryBytes = 1 << 20,
        Devices =
        [
            new DeviceSpec { Type = "uart16550", Settings = new Dictionary<string, object?> { ["port"] = 0x3F8L, ["irq"] = 4L, ["console"] = true } },
            new DeviceSpec { Type = "debugExit", Settings = new Dictionary<string, object?> { ["port"] = 0xF4L } },
        ],
        Boot = new BootSpec { Image = HelloImage(), LoadAddress = 0x7C00 },
    };

    /// <summary>The hello guest of machine-defs, assembled from its source (the built .bin may be older or absent).</summary>
    private static string HelloImage()
    {
        string image = Path.Combine(Directory.CreateTempSubdirectory("virtshell-hello-").FullName, "hello.bin");
        File.WriteAllBytes(image, Nasm.Assemble(File.ReadAllText(RepoPaths.MachineDef("guests/hello.asm"))));
        return image;
    }

    private static string Text(ConsoleChannel console)
    {
        long offset = 0;
        return Encoding.ASCII.GetString(console.ReadFrom(ref offset));
    }

    private static void WaitForText(ConsoleChannel console, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!Text(console).Contains(text))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no '{text}' on the console; it has: {Text(console)}");
            console.WaitForOutput(console.Position, TimeSpan.FromMilliseconds(100));
        }
    }
}
