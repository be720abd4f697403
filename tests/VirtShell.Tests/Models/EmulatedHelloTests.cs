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
        return new(store, ModelCatalog.CreateRegistry(store.Home), new JsDefinitionLoader());
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
        long before = vm.Counters["Instructions"];
        Thread.Sleep(300);
        // Idle in HLT: the guest executes next to nothing while nobody types.
        Assert.InRange(vm.Counters["Instructions"] - before, 0, 1000);
        vm.Pause();
        Assert.Equal(MachineState.Paused, vm.State);
        vm.Resume();
        vm.Stop(turnOff: true, GuestConsole.Timeout);
        Assert.Equal(ExitReason.StoppedByUser, vm.LastExit!.Reason);
    }
}
