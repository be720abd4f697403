using VirtShell.Control;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;

namespace VirtShell.Tests.Control;

public sealed class ControlServerTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-control-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>
    /// A machine removed and made again under its name while its old host still finishes: the old host's server,
    /// ending after the new one has bound the same path, must not take the new host's socket with it.
    /// </summary>
    [Fact]
    public void A_server_that_ends_after_another_has_bound_its_path_leaves_that_socket_in_place()
    {
        string machine = Path.Combine(_folder, "machines", "life");
        Directory.CreateDirectory(machine);
        string path = Path.Combine(machine, "control.sock");
        var old = ControlServer.Listen(path, new StateOnly(MachineState.Running));
        Directory.Delete(machine, recursive: true);   // Remove-VirtMachine
        Directory.CreateDirectory(machine);            // New-VirtMachine, and the new host's start
        using var current = ControlServer.Listen(path, new StateOnly(MachineState.Paused));

        old.Dispose();

        Assert.True(File.Exists(path), "the old server removed the new server's socket");
        using var client = MachineClient.Connect("life", path);
        Assert.Equal(MachineState.Paused, client.GetStateAsync(CancellationToken.None).GetAwaiter().GetResult());
    }

    [Fact]
    public void A_server_removes_its_own_socket_when_it_ends()
    {
        string path = Path.Combine(_folder, "control.sock");
        ControlServer.Listen(path, new StateOnly(MachineState.Running)).Dispose();
        Assert.False(File.Exists(path));
    }

    /// <summary>A machine that only says its state: all these tests ask of it.</summary>
    private sealed class StateOnly(MachineState state) : IMachineControl
    {
        public Task<MachineState> GetStateAsync(CancellationToken cancel) => Task.FromResult(state);
        public Task<bool> StopAsync(bool turnOff, double timeoutSeconds, CancellationToken cancel) => throw new NotSupportedException();
        public Task PauseAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task ResumeAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task SendInputAsync(string text, CancellationToken cancel) => throw new NotSupportedException();
        public Task<ConsoleChunk> ReadConsoleAsync(long offset, int maxBytes, double waitSeconds, CancellationToken cancel) => throw new NotSupportedException();
        public Task<ConsoleLineResult> ReadLinesAsync(ConsoleLineQuery query, CancellationToken cancel) => throw new NotSupportedException();
        public Task<MachineMeasurement> MeasureAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task<int> ExecuteAsync(GuestCommand command, IProgress<GuestOutputLine> output, CancellationToken cancel) => throw new NotSupportedException();
        public Task<MachineState> WaitForStateAsync(MachineState[] states, double timeoutSeconds, CancellationToken cancel) => throw new NotSupportedException();
        public Task<MachineCheckpoint> CheckpointAsync(string? name, CancellationToken cancel) => throw new NotSupportedException();
        public Task RestoreCheckpointAsync(string name, CancellationToken cancel) => throw new NotSupportedException();
        public Task ExportAsync(string path, CancellationToken cancel) => throw new NotSupportedException();
        public Task<double> MoveAsync(string model, CancellationToken cancel) => throw new NotSupportedException();
        public Task<string?> StartPreCopyAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task<byte[]?> NextPreCopyPieceAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task<VirtShell.Engine.Migration.PreCopyPause> PausePreCopyAsync(CancellationToken cancel) => throw new NotSupportedException();
    }
}
