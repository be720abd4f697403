using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Machines;
using VirtShell.Engine.State;
using VirtShell.Engine.Store;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.State;

/// <summary>Checkpoints through <see cref="Machine"/>, as a machine's host process takes and restores them.</summary>
public sealed class MachineCheckpointTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("virtshell-checkpoint-").FullName;
    private readonly VirtualizationHost _host;

    public MachineCheckpointTests() => _host = TestDefinitions.Host(new MachineStore(_home));

    public void Dispose()
    {
        foreach (var machine in _host.List()) machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        Directory.Delete(_home, recursive: true);
    }

    private static string Console(Machine machine) => File.Exists(machine.ConsoleLogPath) ? File.ReadAllText(machine.ConsoleLogPath) : "";

    /// <summary>Waits until the console from <paramref name="from"/> on has <paramref name="lines"/> complete lines; returns that text.</summary>
    private static string WaitForLines(Machine machine, int lines, int from = 0)
    {
        var deadline = DateTime.UtcNow + GuestConsole.Timeout;
        while (DateTime.UtcNow < deadline)
        {
            string text = Console(machine)[from..];
            if (text.Count(c => c == '\n') >= lines) return text;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"{lines} lines not seen; the guest printed: {Console(machine)}");
    }

    /// <summary>The counting guest as a machine of the store; with <paramref name="disk"/>, an ATA disk of 64 KiB of zeros beside its definition.</summary>
    private Machine CountingMachine(bool disk = false)
    {
        string definition = SavedStateRig.Definition(SavedStateGuestTests.CountingGuest, extraDevices: disk ? "ataDisk({ image: './disk.img' })" : "");
        if (disk) File.WriteAllBytes(Path.Combine(Path.GetDirectoryName(definition)!, "disk.img"), new byte[1 << 16]);
        return _host.Create(definition, "counting");
    }

    [Fact]
    public void A_running_machine_checkpointed_goes_on_and_after_a_restore_its_next_start_continues_from_the_checkpoint()
    {
        var machine = CountingMachine();
        machine.Start();
        WaitForLines(machine, 10);
        machine.Pause();
        string atCheckpoint = Console(machine);
        var checkpoint = machine.Checkpoint("c");
        Assert.Equal(MachineState.Paused, machine.State);
        machine.Resume();
        WaitForLines(machine, 10, atCheckpoint.Length);
        machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));

        Assert.Equal(MachineState.Paused, checkpoint.TakenWhile);
        Assert.Equal(CheckpointStore.StateFile, checkpoint.StateFile);
        machine.RestoreCheckpoint("c");
        Assert.Equal(MachineState.Saved, machine.State);
        Assert.Equal(MachineState.Saved, new MachineStore(_home).Load("counting")!.State);
        int restartAt = Console(machine).Length;
        machine.Start();
        string after = WaitForLines(machine, 10, restartAt);
        machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));

        Assert.False(after.StartsWith("0\n1\n"), "the restored machine booted afresh instead of going on");
        Assert.True(SavedStateGuestTests.CountedLines(atCheckpoint + after) >= 20, "the count did not go on from the checkpoint");
        Assert.Null(CheckpointStore.ResumeState(machine.Directory));
    }

    [Fact]
    public void A_checkpoint_whose_disk_copy_was_truncated_is_refused_naming_it_and_changes_nothing()
    {
        var machine = CountingMachine(disk: true);
        string image = Path.Combine(Path.GetDirectoryName(machine.Spec.DefinitionPath)!, "disk.img");
        machine.Start();
        WaitForLines(machine, 2);
        var checkpoint = machine.Checkpoint("c");
        machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        var disk = Assert.Single(checkpoint.Disks);
        Assert.Equal(image, disk.Image);
        string copy = Path.Combine(checkpoint.Path, disk.File);
        File.WriteAllBytes(copy, new byte[100]);
        File.WriteAllBytes(image, [.. Enumerable.Repeat((byte)9, 1 << 16)]);

        var e = Assert.Throws<CheckpointException>(() => machine.RestoreCheckpoint("c"));
        Assert.Contains(copy, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Equal(MachineState.Stopped, machine.State);
        Assert.All(File.ReadAllBytes(image), b => Assert.Equal(9, b));
        Assert.Null(CheckpointStore.ResumeState(machine.Directory));
    }

    [Fact]
    public void A_saved_machine_whose_definition_no_longer_fits_its_state_is_refused_at_start_and_stays_saved()
    {
        var machine = CountingMachine();
        machine.Start();
        WaitForLines(machine, 2);
        machine.Checkpoint("c");
        machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        machine.RestoreCheckpoint("c");
        string definition = machine.Spec.DefinitionPath!;
        File.WriteAllText(definition, File.ReadAllText(definition).Replace("memory: '1M'", "memory: '2M'"));
        _host.Redefine(machine, definition);

        var e = Assert.Throws<StateFormatException>(machine.Start);
        Assert.Contains("memory", e.Message);
        Assert.Equal(MachineState.Saved, machine.State);
        Assert.NotNull(CheckpointStore.ResumeState(machine.Directory));
    }
}
