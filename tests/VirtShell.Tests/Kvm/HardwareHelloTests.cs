using System.Text;
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
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [KvmFact]
    public void The_hello_definition_runs_unchanged_on_kvm()
    {
        RepoPaths.RequireGuest("guests/hello.bin");
        var host = new VirtualizationHost(new MachineStore(Directory.CreateTempSubdirectory().FullName), ModelCatalog.CreateRegistry(), new JsDefinitionLoader());
        var vm = host.Create(RepoPaths.MachineDef("hello-hardware.js"), "hello-kvm");
        vm.Start();
        long offset = 0;
        WaitForText(vm, ref offset, "Hello from VirtShell!");
        vm.Console!.SendInput("ping\r");
        WaitForText(vm, ref offset, "ping\r\n");

        vm.Pause();
        Assert.Equal(MachineState.Paused, vm.State);
        vm.Resume();
        vm.Console.SendInput("exit\r");
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], Timeout));
        Assert.Equal(ExitReason.DebugExit, vm.LastExit!.Reason);
        Assert.Equal(1, vm.LastExit.Status);
        Assert.Contains("Goodbye.", File.ReadAllText(vm.ConsoleLogPath));
        Assert.Contains("booting hello-kvm", File.ReadAllText(Path.Combine(vm.Directory, MachineStore.LogFile)));
    }

    private static void WaitForText(Machine vm, ref long offset, string text)
    {
        var seen = new StringBuilder();
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            seen.Append(Encoding.ASCII.GetString(vm.Console!.ReadFrom(ref offset)));
            if (seen.ToString().Contains(text)) return;
            vm.Console.WaitForOutput(offset, TimeSpan.FromMilliseconds(200));
        }
        throw new TimeoutException($"'{text}' not seen; the guest printed: {seen}");
    }
}
