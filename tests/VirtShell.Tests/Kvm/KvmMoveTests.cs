using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;
using VirtShell.Engine.Store;
using VirtShell.Tests.Models;
using VirtShell.Tests.State;

namespace VirtShell.Tests.Kvm;

/// <summary>
/// Machine.Move (Move-VirtMachine -Model) through the lifecycle: a running counting guest moved from the emulated
/// model to hardware and back goes on counting; the refusals that need no KVM are checked everywhere.
/// </summary>
[Collection(KvmCollection.Name)]
public sealed class KvmMoveTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("virtshell-move-").FullName;
    private readonly VirtualizationHost _host;

    public KvmMoveTests() => _host = TestDefinitions.Host(new MachineStore(_home));

    public void Dispose()
    {
        foreach (var machine in _host.List()) machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        Directory.Delete(_home, recursive: true);
    }

    private static string Console(Machine machine) => File.Exists(machine.ConsoleLogPath) ? File.ReadAllText(machine.ConsoleLogPath) : "";

    private static string WaitForLines(Machine machine, int lines)
    {
        var deadline = DateTime.UtcNow + GuestConsole.Timeout;
        while (DateTime.UtcNow < deadline)
        {
            string text = Console(machine);
            if (text.Count(c => c == '\n') >= lines) return text;
            if (!machine.State.IsLive()) throw new InvalidOperationException($"the machine ended ({machine.LastExit}); it printed: {text}");
            Thread.Sleep(20);
        }
        throw new TimeoutException($"{lines} lines not seen; the guest printed: {Console(machine)}");
    }

    private Machine Counting() => _host.Create(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest), "counting");

    [KvmFact]
    public void A_counting_guest_moved_from_emulated_to_hardware_and_back_goes_on_without_a_gap_or_a_repeat()
    {
        var machine = Counting();
        machine.Start();
        WaitForLines(machine, 10);

        var downtime = machine.Move("hardware");
        Assert.Equal("hardware", machine.Model);
        Assert.Equal(MachineState.Running, machine.State);
        Assert.True(downtime > TimeSpan.Zero);
        int lines = Console(machine).Count(c => c == '\n');
        WaitForLines(machine, lines + 10);

        machine.Move("emulated");
        Assert.Equal("emulated", machine.Model);
        lines = Console(machine).Count(c => c == '\n');
        string text = WaitForLines(machine, lines + 10);
        SavedStateGuestTests.CountedLines(text);
        Assert.DoesNotContain("FAIL", text);
        Assert.Contains("moved from model 'emulated' to 'hardware'", File.ReadAllText(Path.Combine(machine.Directory, MachineStore.LogFile)));
    }

    [Fact]
    public void A_move_the_host_cannot_make_is_refused_naming_why_and_the_machine_runs_on()
    {
        var machine = Counting();
        machine.Start();
        WaitForLines(machine, 3);
        var hardware = _host.Models.Find("hardware")!;
        if (hardware.GetAvailability() is { IsAvailable: false } unavailable)
        {
            var e = Assert.Throws<MachineStateException>(() => machine.Move("hardware"));
            Assert.Contains($"model 'hardware' is not available here: {unavailable.Reason}", e.Message);
            Assert.Contains("/dev/kvm", e.Message);
        }
        else
        {
            var e = Assert.Throws<StateNotSupportedException>(() => machine.Move("paravirtual"));
            Assert.Contains("model 'paravirtual' cannot take another model's machine", e.Message);
        }
        Assert.Throws<ArgumentException>(() => machine.Move("emulated"));
        Assert.Equal("emulated", machine.Model);
        Assert.Equal(MachineState.Running, machine.State);
        int lines = Console(machine).Count(c => c == '\n');
        WaitForLines(machine, lines + 3);
    }
}
