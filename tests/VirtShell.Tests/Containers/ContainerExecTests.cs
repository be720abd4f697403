using VirtShell.Engine.Machines;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

public sealed class ContainerExecTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [ContainerFact]
    public void Exec_streams_stdout_and_stderr_apart_and_returns_the_exit_code()
    {
        var machine = _host.StartIdle("exec");
        var lines = new List<GuestOutputLine>();
        int code = machine.Execute(new GuestCommand(["sh", "-c", "echo one; echo two >&2; echo three; exit 7"]), l => { lock (lines) lines.Add(l); });
        Assert.Equal(7, code);
        Assert.Equal(["one", "three"], lines.Where(l => !l.IsError).Select(l => l.Text));
        Assert.Equal(["two"], lines.Where(l => l.IsError).Select(l => l.Text));
        Assert.DoesNotContain("one", ConsoleText(machine)); // exec output is the caller's, not the console's
    }

    [ContainerFact]
    public void A_command_given_right_after_the_start_waits_for_the_container()
    {
        // Start returns before runc has made the container (it runs on the machine's thread); exec must not fail then.
        var machine = _host.Create(_host.Spec("early", ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]));
        machine.Start();
        Assert.Equal((0, "early", ""), Exec(machine, "hostname"));
    }

    [ContainerFact]
    public void Exec_takes_user_directory_and_environment()
    {
        var machine = _host.StartIdle("execopts");
        var lines = new List<string>();
        int code = machine.Execute(new GuestCommand(["sh", "-c", "echo $(id -u) $(pwd) $GREETING"])
            { User = "65534:65534", WorkingDirectory = "/tmp", Environment = ["GREETING=hi"] }, l => lines.Add(l.Text));
        Assert.Equal(0, code);
        Assert.Equal(["65534 /tmp hi"], lines);
    }

    [ContainerFact]
    public void A_command_that_does_not_exist_is_a_clear_error()
    {
        var machine = _host.StartIdle("nosuch");
        var lines = new List<GuestOutputLine>();
        var e = Assert.Throws<GuestCommandException>(() => machine.Execute(new GuestCommand(["no-such-program", "x"]), lines.Add));
        Assert.Contains("no-such-program", e.Message);
        Assert.Contains("not found", e.Message);
        Assert.Empty(lines); // runc's own complaint is the exception, not output of a command that never ran
        Assert.Equal(MachineState.Running, machine.State);
    }

    [ContainerFact]
    public void Exec_on_a_stopped_container_is_refused()
    {
        var machine = _host.StartIdle("stopped");
        machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        var e = Assert.Throws<MachineStateException>(() => Exec(machine, "true"));
        Assert.Contains("Stopped", e.Message);
    }

    [ContainerFact]
    public void Cancelling_ends_the_command()
    {
        var machine = _host.StartIdle("cancel");
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int code = machine.Execute(new GuestCommand(["sleep", "30"]), _ => { }, cancel.Token);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"cancel took {watch.Elapsed}, as if the 30 s sleep ran out");
        Assert.NotEqual(0, code);
        Assert.Equal("0", Exec(machine, "sh", "-c", "ps | grep -c '[s]leep 30'").Out.Trim());
    }
}
