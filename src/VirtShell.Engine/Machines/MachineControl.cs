namespace VirtShell.Engine.Machines;

/// <summary>
/// The engine API served by the process that runs <paramref name="machine"/>: each call is the machine's own method,
/// run off the caller's thread, since most of them block.
/// </summary>
public sealed class MachineControl(Machine machine) : IMachineControl
{
    /// <summary>The machine served.</summary>
    public Machine Machine { get; } = machine;

    /// <inheritdoc/>
    public Task<MachineState> GetStateAsync(CancellationToken cancel) => Run(() => Machine.State);

    /// <inheritdoc/>
    public Task<bool> StopAsync(bool turnOff, double timeoutSeconds, CancellationToken cancel) =>
        Run(() => Machine.Stop(turnOff, TimeSpan.FromSeconds(timeoutSeconds)));

    /// <inheritdoc/>
    public Task PauseAsync(CancellationToken cancel) => Run(() => { Machine.Pause(); return true; });

    /// <inheritdoc/>
    public Task ResumeAsync(CancellationToken cancel) => Run(() => { Machine.Resume(); return true; });

    /// <inheritdoc/>
    public Task SendInputAsync(string text, CancellationToken cancel) => Run(() => { Machine.SendInput(text); return true; });

    /// <inheritdoc/>
    public Task<ConsoleChunk> ReadConsoleAsync(long offset, int maxBytes, double waitSeconds, CancellationToken cancel) => Run(() =>
    {
        var state = Machine.State;
        var buffer = new byte[Math.Clamp(maxBytes, 1, ConsoleReads.Chunk)];
        long next = offset;
        var (bytes, more) = Machine.ReadConsole(ref next, buffer);
        if (bytes.Length == 0 && waitSeconds > 0 && state.IsLive()
            && Machine.WaitForOutput(offset, TimeSpan.FromSeconds(waitSeconds), cancel))
        {
            state = Machine.State;
            next = offset;
            (bytes, more) = Machine.ReadConsole(ref next, buffer);
        }
        return new ConsoleChunk(next - bytes.Length, bytes.ToArray(), next, more, state);
    });

    /// <inheritdoc/>
    public Task<Console.ConsoleLineResult> ReadLinesAsync(Console.ConsoleLineQuery query, CancellationToken cancel) =>
        Run(() => Console.ConsoleLineSearch.Read(Machine, query, cancel));

    /// <inheritdoc/>
    public Task<MachineMeasurement> MeasureAsync(CancellationToken cancel) => Run(Machine.Measure);

    /// <inheritdoc/>
    public Task<int> ExecuteAsync(GuestCommand command, IProgress<GuestOutputLine> output, CancellationToken cancel) =>
        Run(() => Machine.Execute(command, output.Report, cancel));

    /// <inheritdoc/>
    public Task<MachineState> WaitForStateAsync(MachineState[] states, double timeoutSeconds, CancellationToken cancel) => Run(() =>
    {
        Machine.WaitFor(states, TimeSpan.FromSeconds(timeoutSeconds), cancel);
        return Machine.State;
    });

    /// <inheritdoc/>
    public Task<Checkpoints.MachineCheckpoint> CheckpointAsync(string? name, CancellationToken cancel) => Run(() => Machine.Checkpoint(name));

    /// <inheritdoc/>
    public Task RestoreCheckpointAsync(string name, CancellationToken cancel) => Run(() => { Machine.RestoreCheckpoint(name); return true; });

    /// <inheritdoc/>
    public Task ExportAsync(string path, CancellationToken cancel) => Run(() => { Machine.Export(path); return true; });

    /// <inheritdoc/>
    public Task<double> MoveAsync(string model, CancellationToken cancel) => Run(() => Machine.Move(model).TotalSeconds);

    /// <inheritdoc/>
    public Task<string?> StartPreCopyAsync(CancellationToken cancel) => Run(() => Machine.StartPreCopy());

    /// <inheritdoc/>
    public Task<byte[]?> NextPreCopyPieceAsync(CancellationToken cancel) => Run(Machine.NextPreCopyPiece);

    /// <inheritdoc/>
    public Task<Migration.PreCopyPause> PausePreCopyAsync(CancellationToken cancel) => Run(() => Machine.PausePreCopy());

    private static Task<T> Run<T>(Func<T> call) => Task.Run(call);
}

/// <summary>Sizes for console reads.</summary>
public static class ConsoleReads
{
    /// <summary>The most read from the log at once: the buffer a reader passes, and the largest chunk a call returns.</summary>
    public const int Chunk = 1 << 20;
}
