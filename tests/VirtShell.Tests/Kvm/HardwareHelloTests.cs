using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Kvm;

/// <summary>machine-defs/hello-hardware.js end to end through the engine and the script loader, as EmulatedHelloTests does it on the interpreter.</summary>
[Collection(KvmCollection.Name)]
public class HardwareHelloTests
{
    [KvmFact]
    public void The_hello_definition_runs_unchanged_on_kvm()
    {
        RepoPaths.RequireGuest("guests/hello.bin");
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        var host = TestDefinitions.Host(store);
        var vm = host.Create(RepoPaths.MachineDef("hello-hardware.js"), "hello-kvm");
        vm.Start();
        long offset = 0;
        GuestConsole.WaitForText(vm, ref offset, "Hello from VirtShell!");
        vm.Console!.SendInput("ping\r");
        GuestConsole.WaitForText(vm, ref offset, "ping\r\n");

        vm.Pause();
        Assert.Equal(MachineState.Paused, vm.State);
        vm.Resume();
        vm.Console.SendInput("exit\r");
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], GuestConsole.Timeout));
        Assert.Equal(ExitReason.DebugExit, vm.LastExit!.Reason);
        Assert.Equal(1, vm.LastExit.Status);
        Assert.Contains("Goodbye.", File.ReadAllText(vm.ConsoleLogPath));
        Assert.Contains("booting hello-kvm", File.ReadAllText(Path.Combine(vm.Directory, MachineStore.LogFile)));
    }

}
