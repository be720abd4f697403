using VirtShell.Cpu.Interpreter;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;

namespace VirtShell.Tests.Models;

/// <summary>machine-defs/hello-emulated.js end to end through the engine: a real guest on the interpreter.</summary>
public class EmulatedHelloTests
{
    private static VirtualizationHost NewHost()
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        return new(store, ModelCatalog.CreateRegistry(store.Home), TestDefinitions.Loader());
    }


    [Fact]
    public void The_hello_guest_greets_echoes_lines_and_powers_off_on_exit()
    {
        RepoPaths.RequireGuest("guests/hello.bin");
        var host = NewHost();
        var vm = host.Create(RepoPaths.MachineDef("hello-emulated.js"), "hello-test");
        vm.Start();
        long offset = 0;
        GuestConsole.WaitForText(vm, ref offset, "Hello from VirtShell!");

        vm.Console!.SendInput("ping\r");
        Assert.Contains("ping\r\n", GuestConsole.WaitForText(vm, ref offset, "ping\r\n"));
        vm.Console.SendInput("two words\r\n");
        GuestConsole.WaitForText(vm, ref offset, "two words\r\n");

        vm.Console.SendInput("exit\r");
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], GuestConsole.Timeout));
        Assert.Equal(MachineState.Stopped, vm.State);
        Assert.Equal(ExitReason.DebugExit, vm.LastExit!.Reason);
        Assert.Equal(1, vm.LastExit.Status);
        Assert.Contains("Goodbye.", File.ReadAllText(vm.ConsoleLogPath));
        Assert.Contains("booting hello-test", File.ReadAllText(Path.Combine(vm.Directory, MachineStore.LogFile)));
    }

    [Theory]
    [InlineData("cpu: { tier: 'fast' },", "cpu.tier: 'fast' is not a tier (auto, interpreter, translator)")]
    [InlineData("cpu: { tier: 'interpreter', dump: 'blocks.txt' },", "cpu.dump: only the translator compiles blocks")]
    [InlineData("cpu: { teir: 'translator' },", "cpu.teir: unknown setting (cpu has: tier, compileThreshold, dump)")]
    [InlineData("cpu: { tier: 'translator', compileThreshold: 0 },", "cpu.compileThreshold: must be a whole number of runs from 1 to 16777216, not 0")]
    [InlineData("cpu: { tier: 'translator', compileThreshold: 2.5 },", "cpu.compileThreshold: must be a whole number of runs from 1 to 16777216, not 2.5")]
    [InlineData("cpu: { tier: 'translator', compileThreshold: 'often' },", "cpu.compileThreshold: must be a whole number of runs from 1 to 16777216, not often")]
    [InlineData("cpu: { tier: 'interpreter', compileThreshold: 100 },", "cpu.compileThreshold: only the translator compiles blocks")]
    [InlineData("cpu: 'translator',", "cpu must be an object")]
    public void A_wrong_cpu_section_is_a_definition_error_naming_the_field_and_the_machine_line(string section, string message)
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        string def = Path.Combine(dir, "tier.js");
        File.WriteAllText(def, $$"""
            import { machine } from 'virtshell';
            export default machine({
              name: 'tier', model: 'emulated', memory: '1M',
              boot: { image: '{{RepoPaths.RequireGuest("guests/hello.bin")}}' },
              {{section}}
            });
            """);
        var e = Assert.Throws<VirtShell.Engine.Definitions.DefinitionException>(() => NewHost().Validate(def));
        Assert.Contains("tier.js:2", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData(500, "translator")]
    [InlineData(500.0, "translator")]
    [InlineData(500, null)] // auto is the translator
    public void The_cpu_section_gives_the_translators_compile_threshold(object threshold, string? tier)
    {
        var cpu = new Dictionary<string, object?> { ["compileThreshold"] = threshold };
        if (tier != null) cpu["tier"] = tier;
        var spec = new MachineSpec
        {
            Name = "tier", Model = "emulated", MemoryBytes = 1 << 20,
            Sections = new Dictionary<string, object?> { ["cpu"] = cpu },
        };
        var section = VirtShell.Models.Emulated.CpuSection.Read(spec);
        Assert.Equal(tier == null ? CpuTier.Auto : CpuTier.Translator, section.Tier);
        Assert.Equal(500, section.CompileThreshold);
        Assert.Null(VirtShell.Models.Emulated.CpuSection.Read(spec with { Sections = new Dictionary<string, object?>() }).CompileThreshold);
    }

    [Fact]
    public void A_section_of_another_model_is_a_definition_error_naming_the_machine_line()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        string def = Path.Combine(dir, "mixed.js");
        File.WriteAllText(def, $$"""
            import { machine } from 'virtshell';
            export default machine({
              name: 'mixed', model: 'emulated', memory: '1M',
              boot: { image: '{{RepoPaths.RequireGuest("guests/hello.bin")}}' },
              container: { rootfs: '/' },
            });
            """);
        var e = Assert.Throws<VirtShell.Engine.Definitions.DefinitionException>(() => NewHost().Validate(def));
        Assert.Contains("mixed.js:2", e.Message);
        Assert.Contains("'container' section does not apply to model 'emulated'", e.Message);
    }

    [Fact]
    public void A_halted_guest_waits_for_input_without_spinning_and_stops_on_request()
    {
        RepoPaths.RequireGuest("guests/hello.bin");
        var host = NewHost();
        var vm = host.Create(RepoPaths.MachineDef("hello-emulated.js"), "idle-test");
        vm.Start();
        long offset = 0;
        GuestConsole.WaitForText(vm, ref offset, "Hello from VirtShell!");
        long before = vm.Measure().Instructions!.Value;
        Thread.Sleep(300);
        // Idle in HLT: the guest executes next to nothing while nobody types.
        Assert.InRange(vm.Measure().Instructions!.Value - before, 0, 1000);
        vm.Pause();
        Assert.Equal(MachineState.Paused, vm.State);
        vm.Resume();
        vm.Stop(turnOff: true, GuestConsole.Timeout);
        Assert.Equal(ExitReason.StoppedByUser, vm.LastExit!.Reason);
    }

    [Fact]
    public void Measure_counts_the_guest_and_what_it_costs_the_host()
    {
        RepoPaths.RequireGuest("guests/hello.bin");
        var host = NewHost();
        var vm = host.Create(RepoPaths.MachineDef("hello-emulated.js"), "measure-test");
        Assert.Null(vm.Measure().Instructions); // not running: nothing counts
        vm.Start();
        long offset = 0;
        GuestConsole.WaitForText(vm, ref offset, "Hello from VirtShell!");
        vm.Console!.SendInput("ping\r");
        GuestConsole.WaitForText(vm, ref offset, "ping\r\n");
        // The interpreter adds up the instructions of a run when the run returns (at a HLT): wait for the guest to idle.
        var deadline = DateTime.UtcNow + GuestConsole.Timeout;
        while (vm.Measure().HaltExits == 0 && DateTime.UtcNow < deadline) Thread.Sleep(20);

        var m = vm.Measure();
        Assert.Equal("emulated", m.Model);
        Assert.True(m.Instructions > 0);
        Assert.True(m.IoExits > offset, "each byte printed is at least one OUT to the UART");
        Assert.Equal(0, m.MmioExits);
        Assert.True(m.HaltExits > 0, "the guest halts while it waits for input");
        Assert.Null(m.Exits);
        Assert.True(m.ConsoleBytesOut >= offset, "every byte read so far came out in this run");
        Assert.Equal(5, m.ConsoleBytesIn);
        Assert.True(m.CpuTime > TimeSpan.Zero, "the vCPU thread has run");
        Assert.Equal(1L << 20, m.GuestMemoryBytes);
        Assert.InRange(m.HostMemoryBytes!.Value, 4096, 1L << 20);
        vm.Stop(turnOff: true, GuestConsole.Timeout);
        Assert.Null(vm.Measure().CpuTime);
    }
}
