using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Cpu;

/// <summary>machine-defs/guests/ring3-loop.asm on the emulated model, through the engine like the Bench runs it.</summary>
public class LongModeGuestTests
{
    [Fact]
    public void The_ring3_loop_guest_runs_to_its_debug_exit_on_the_emulated_model()
    {
        string image = RepoPaths.RequireGuest("guests/ring3-loop.bin");
        string dir = Directory.CreateTempSubdirectory().FullName;
        string def = Path.Combine(dir, "ring3-emulated.js");
        File.WriteAllText(def, $$"""
            import { machine, debugExit } from 'virtshell';
            export default machine({
              name: 'ring3', model: 'emulated', memory: '16M',
              devices: [ debugExit({ port: 0xf4 }) ],
              boot: { type: 'bootSector', image: '{{image}}' },
            });
            """);
        var store = new MachineStore(Path.Combine(dir, "store"));
        var host = TestDefinitions.Host(store);
        var vm = host.Create(def, "ring3-test");
        vm.Start();

        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], TimeSpan.FromSeconds(120)), $"still {vm.State}");
        Assert.Equal(MachineState.Stopped, vm.State);
        Assert.Equal(ExitReason.DebugExit, vm.LastExit!.Reason);
        Assert.Equal(1, vm.LastExit.Status);                  // the guest writes 0: (0 << 1) | 1
    }
}
