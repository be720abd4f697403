namespace VirtShell.Engine.Machines;

/// <summary>
/// The engine API of one machine: what every client (each cmdlet, a script, another process) may ask of it. The
/// process that runs the machine serves it (<see cref="MachineControl"/>); other processes reach it through the
/// machine's control socket with a client of the same interface, so a call means the same wherever it is made.
/// Starting is not a call: a host process starts its machine as it comes up (<c>HostProcess.Launch</c>).
/// Times are in seconds, as the cmdlets take them. Failures are the engine's own exceptions
/// (<see cref="MachineStateException"/>, <see cref="Definitions.DefinitionException"/>, <see cref="HookException"/>,
/// <see cref="GuestCommandException"/>).
/// </summary>
public interface IMachineControl
{
    /// <summary>Where the machine is in its lifecycle now.</summary>
    Task<MachineState> GetStateAsync(CancellationToken cancel);

    /// <summary>Ends the run (see <see cref="Machine.Stop"/>); returns whether the guest was asked rather than turned off.</summary>
    Task<bool> StopAsync(bool turnOff, double timeoutSeconds, CancellationToken cancel);

    /// <summary>Holds the guest's CPUs (see <see cref="Machine.Pause"/>).</summary>
    Task PauseAsync(CancellationToken cancel);

    /// <summary>Lets a paused guest run on.</summary>
    Task ResumeAsync(CancellationToken cancel);

    /// <summary>Types text into the console (see <see cref="Machine.SendInput"/>).</summary>
    Task SendInputAsync(string text, CancellationToken cancel);

    /// <summary>
    /// Console output from <paramref name="offset"/> on, at most <paramref name="maxBytes"/>; when there is none yet,
    /// waits up to <paramref name="waitSeconds"/> for some. Offsets are absolute (bytes since the log began), so a
    /// reader that passes back <see cref="ConsoleChunk.Next"/> never sees a byte twice nor misses one still kept.
    /// </summary>
    Task<ConsoleChunk> ReadConsoleAsync(long offset, int maxBytes, double waitSeconds, CancellationToken cancel);

    /// <summary>
    /// Console output as lines from a read cursor, or the end of the output up to the first line matching a pattern,
    /// waiting up to the query's slice (see <see cref="Console.ConsoleLineSearch"/>): Receive-VirtConsole is calls of
    /// this.
    /// </summary>
    Task<Console.ConsoleLineResult> ReadLinesAsync(Console.ConsoleLineQuery query, CancellationToken cancel);

    /// <summary>The machine's counters (see <see cref="Machine.Measure"/>).</summary>
    Task<MachineMeasurement> MeasureAsync(CancellationToken cancel);

    /// <summary>Runs a command inside the machine (containers); its lines reach <paramref name="output"/> as they come.</summary>
    Task<int> ExecuteAsync(GuestCommand command, IProgress<GuestOutputLine> output, CancellationToken cancel);

    /// <summary>Waits until the machine is in one of <paramref name="states"/>, at most <paramref name="timeoutSeconds"/>; returns the state it is in then.</summary>
    Task<MachineState> WaitForStateAsync(MachineState[] states, double timeoutSeconds, CancellationToken cancel);

    /// <summary>Takes a checkpoint (see <see cref="Machine.Checkpoint"/>); null names it by the date and time.</summary>
    Task<Checkpoints.MachineCheckpoint> CheckpointAsync(string? name, CancellationToken cancel);

    /// <summary>Restores a checkpoint into the machine at rest (see <see cref="Machine.RestoreCheckpoint"/>).</summary>
    Task RestoreCheckpointAsync(string name, CancellationToken cancel);

    /// <summary>Writes the machine to a new file at <paramref name="path"/>, an absolute path (see <see cref="Machine.Export"/>).</summary>
    Task ExportAsync(string path, CancellationToken cancel);

    /// <summary>Moves the machine to another model (see <see cref="Machine.Move"/>); returns how long the guest was paused, in seconds.</summary>
    Task<double> MoveAsync(string model, CancellationToken cancel);

    /// <summary>Begins a pre-copy migration (see <see cref="Machine.StartPreCopy"/>): null, or why the model cannot.</summary>
    Task<string?> StartPreCopyAsync(CancellationToken cancel);

    /// <summary>The next piece of the pre-copy (see <see cref="Machine.NextPreCopyPiece"/>), null at the end of a phase.</summary>
    Task<byte[]?> NextPreCopyPieceAsync(CancellationToken cancel);

    /// <summary>Pauses for the pre-copy's last round (see <see cref="Machine.PausePreCopy"/>); returns its first pieces and the rounds.</summary>
    Task<Migration.PreCopyPause> PausePreCopyAsync(CancellationToken cancel);
}

/// <summary>
/// Console bytes read from an absolute offset: they start at <see cref="Start"/> (later than asked when the oldest
/// bytes were rotated away) and the next read starts at <see cref="Next"/>. <see cref="More"/>: more can be read at
/// once. <see cref="State"/> is the machine's state as the read began, so output written just before it stopped is
/// in this chunk or an earlier one.
/// </summary>
public sealed record ConsoleChunk(long Start, byte[] Bytes, long Next, bool More, MachineState State);
