using VirtShell.Containers;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Containers.Definition;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

public sealed class ContainerCleanupTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [ContainerFact]
    public void Nothing_of_a_machine_remains_after_remove()
    {
        var machine = _host.StartIdle("leak");
        var placement = _host.Containers.Place("leak");
        int init = _host.Containers.Runc.State(placement.ContainerId)!.Pid;
        Assert.True(Directory.Exists($"/proc/{init}"));
        Assert.Contains(_host.Containers.FindLeftovers("leak"), l => l.StartsWith("mount "));
        Assert.Contains(_host.Containers.FindLeftovers("leak"), l => l.StartsWith("cgroup "));

        machine.Stop(turnOff: false, TimeSpan.FromSeconds(10));
        _host.Engine.Remove(machine);

        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(placement.MachineDirectory));
        Assert.Empty(new VirtShell.Containers.Cgroups.CgroupView(placement.CgroupsPath).ExistingDirectories());
        Assert.False(Directory.Exists(Path.Combine(_host.Containers.Runc.StateRoot, placement.ContainerId)));
        Assert.False(Directory.Exists($"/proc/{init}"), $"init {init} is still there (a zombie nobody reaped?)");
        Assert.Empty(_host.Containers.FindLeftovers("leak"));
        Assert.False(Directory.Exists(placement.MachineDirectory));
    }

    [ContainerFact]
    public void A_failed_start_leaves_nothing_behind()
    {
        // The program is not in the image: the start fails (before runc runs) with the field named.
        var machine = _host.Create(_host.Spec("broken", ["/no/such/init"]));
        var e = Assert.ThrowsAny<Exception>(machine.Start);
        Assert.Contains("container.process.args[0]: '/no/such/init'", e.Message);
        Assert.Equal(MachineState.Created, machine.State); // as before the start
        Assert.Empty(_host.Containers.FindLeftovers("broken"));
        string bundle = Path.Combine(machine.Directory, "bundle");
        Assert.Empty(Directory.Exists(bundle) ? Directory.GetFiles(bundle, "*.pid") : []);

        // A name without '/' is looked up along the process's PATH, as runc would.
        var unnamed = _host.Create(_host.Spec("unnamed", ["no-such-program"]));
        Assert.Contains("'no-such-program' is not found on the process's PATH", Assert.ThrowsAny<Exception>(unnamed.Start).Message);
        Assert.Empty(_host.Containers.FindLeftovers("unnamed"));
    }

    [ContainerFact]
    public void Leftovers_of_an_engine_that_died_are_released()
    {
        // An engine that dies mid-run never disposes its runtime: the container, its runc state, cgroup and mount stay.
        var spec = _host.Spec("orphan", ["/bin/sh", "-c", "echo ready; while true; do sleep 1; done"]);
        Directory.CreateDirectory(Path.Combine(_host.Home, "machines", "orphan"));
        using var console = new ConsoleChannel(null);
        var runtime = ContainerRuntime.Create(_host.Containers, ContainerSettingsReader.Read(spec), "orphan",
            new MachineServices(console, _ => { }, _ => { }));
        var run = new Thread(() => runtime.Run()) { IsBackground = true };
        run.Start();
        Assert.True(console.WaitForOutput(0, TimeSpan.FromSeconds(20)));
        Assert.NotEmpty(_host.Containers.FindLeftovers("orphan"));

        // What the next start or a forced remove does:
        _host.Containers.ReleaseLeftovers("orphan");
        Assert.Empty(_host.Containers.FindLeftovers("orphan"));
        Assert.True(run.Join(TimeSpan.FromSeconds(10)), "the abandoned run did not notice its container ended");
    }

    [ContainerFact]
    public void Starting_again_clears_what_a_dead_engine_left()
    {
        var spec = _host.Spec("restart", ["/bin/sh", "-c", "echo ready; while true; do sleep 1; done"]);
        var machine = _host.Create(spec);
        using var console = new ConsoleChannel(null);
        var abandoned = ContainerRuntime.Create(_host.Containers, ContainerSettingsReader.Read(spec), "restart",
            new MachineServices(console, _ => { }, _ => { }));
        var run = new Thread(() => abandoned.Run()) { IsBackground = true };
        run.Start();
        Assert.True(console.WaitForOutput(0, TimeSpan.FromSeconds(20)));

        machine.Start();
        Assert.True(WaitForConsole(machine, "ready"));
        Assert.True(run.Join(TimeSpan.FromSeconds(10)), "the abandoned container was not ended by the new start");
        Assert.False(Directory.Exists($"/proc/{abandoned.InitPid}"));
        Assert.Equal(0, Exec(machine, "true").Code);
        machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        Assert.Empty(_host.Containers.FindLeftovers("restart"));
    }
}
