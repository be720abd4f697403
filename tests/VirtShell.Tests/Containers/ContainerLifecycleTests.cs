using VirtShell.Engine.Machines;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

public sealed class ContainerLifecycleTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [ContainerFact]
    public void Output_reaches_the_console_and_the_exit_code_is_recorded()
    {
        var machine = _host.Create(_host.Spec("out", ["/bin/sh", "-c", "echo hello from $(hostname); echo oops >&2; exit 3"]));
        machine.Start();
        var exit = WaitForExit(machine);
        Assert.Equal(ExitReason.GuestPowerOff, exit.Reason);
        Assert.Equal(3, exit.Status);
        Assert.Equal(MachineState.Stopped, machine.State);
        string console = ConsoleText(machine);
        Assert.Contains("hello from out\n", console);
        Assert.Contains("oops\n", console);
    }

    [ContainerFact]
    public void Console_input_reaches_the_containers_stdin()
    {
        var machine = _host.Create(_host.Spec("in", ["/bin/sh", "-c", "echo ready; read a; echo got:$a; read b; echo got:$b"]));
        machine.Start();
        Assert.True(WaitForConsole(machine, "ready"));
        machine.Console!.SendInput("ping\n");
        Assert.True(WaitForConsole(machine, "got:ping"), ConsoleText(machine));
        machine.Console.SendInput("pong\r"); // Enter as a serial terminal sends it
        Assert.True(WaitForConsole(machine, "got:pong"), ConsoleText(machine));
        Assert.Equal(0, WaitForExit(machine).Status);
    }

    [ContainerFact]
    public void Stop_sends_sigterm_and_turn_off_kills_at_once()
    {
        var graceful = _host.StartIdle("graceful");
        graceful.Stop(turnOff: false, TimeSpan.FromSeconds(10));
        Assert.Equal(ExitReason.StoppedByUser, graceful.LastExit!.Reason);
        Assert.Equal(0, graceful.LastExit.Status); // the trap ran: it got SIGTERM and exited on its own

        // init without a TERM handler ignores SIGTERM (it is PID 1): only SIGKILL ends it, and -TurnOff sends that
        // first. With a minute's grace for SIGTERM, a turn-off that ends within the 30 s wait cannot have waited for it.
        var stubborn = _host.Create(_host.Spec("stubborn", ["/bin/sh", "-c", "echo ready; while true; do sleep 1; done"],
            new() { ["stopTimeout"] = 60L }));
        stubborn.Start();
        Assert.True(WaitForConsole(stubborn, "ready"));
        stubborn.Stop(turnOff: true, TimeSpan.FromSeconds(30));
        Assert.Equal(ExitReason.StoppedByUser, stubborn.LastExit!.Reason);
        Assert.Equal(128 + 9, stubborn.LastExit.Status);
    }

    [ContainerFact]
    public void A_stop_right_after_the_start_reaches_the_container_runc_is_still_making()
    {
        // Start returns before runc has made the container; the stop is held until it exists, then delivered.
        foreach (bool turnOff in new[] { true, false })
        {
            string name = turnOff ? "hasty-off" : "hasty-stop";
            var machine = _host.Create(_host.Spec(name, ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]));
            machine.Start();
            machine.Stop(turnOff, TimeSpan.FromSeconds(20));
            Assert.Equal(MachineState.Stopped, machine.State);
            Assert.Equal(ExitReason.StoppedByUser, machine.LastExit!.Reason);
            Assert.Empty(_host.Containers.FindLeftovers(name));
        }
    }

    [ContainerFact]
    public void Stop_escalates_to_sigkill_after_the_timeout()
    {
        var machine = _host.Create(_host.Spec("deaf", ["/bin/sh", "-c", "echo ready; while true; do sleep 1; done"]));
        machine.Start();
        Assert.True(WaitForConsole(machine, "ready"));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        machine.Stop(turnOff: false, TimeSpan.FromSeconds(10));
        Assert.True(watch.Elapsed.TotalSeconds >= 1.5, $"SIGKILL came after {watch.Elapsed}, before the 2 s stopTimeout of these specs");
        Assert.Equal(128 + 9, machine.LastExit!.Status);
    }

    [ContainerFact]
    public void Pause_freezes_the_container_and_resume_thaws_it()
    {
        var machine = _host.Create(_host.Spec("freeze", ["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"]));
        machine.Start();
        Assert.True(WaitForConsole(machine, "tick 3"));
        machine.Pause();
        Assert.Equal(MachineState.Paused, machine.State);
        Thread.Sleep(200);
        long frozenAt = machine.Console!.Position;
        Thread.Sleep(600);
        Assert.Equal(frozenAt, machine.Console.Position);
        machine.Resume();
        Assert.True(machine.Console.WaitForOutput(frozenAt, TimeSpan.FromSeconds(5)));
        machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));
    }

    [ContainerFact]
    public void Writes_go_to_the_machines_upper_layer_and_survive_a_restart_but_never_reach_the_image()
    {
        var machine = _host.Create(_host.Spec("persist", ["/bin/sh", "-c", "echo ready; while true; do sleep 1; done"]));
        machine.Start();
        Assert.True(WaitForConsole(machine, "ready"));
        Assert.Equal(0, Exec(machine, "sh", "-c", "echo kept > /etc/note && rm /bin/ls").Code);
        machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));

        string image = _host.Containers.Images.Busybox();
        Assert.False(File.Exists(Path.Combine(image, "etc/note")));
        Assert.True(File.Exists(Path.Combine(image, "bin/ls")) || new FileInfo(Path.Combine(image, "bin/ls")).LinkTarget != null);
        Assert.True(File.Exists(Path.Combine(machine.Directory, "overlay/upper/etc/note")));

        machine.Start();
        Assert.True(WaitForConsole(machine, "ready"));
        var (code, output, _) = Exec(machine, "cat", "/etc/note");
        Assert.Equal((0, "kept"), (code, output));
        machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));
    }
}
