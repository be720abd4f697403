using VirtShell.Engine.Definitions;
using VirtShell.Engine.Models;

namespace VirtShell.Engine.Machines;

/// <summary>
/// Optional for a runtime: it can write its running machine to a checkpoint folder, from which a model implementing
/// <see cref="ICheckpointRestore"/> starts it again where it was (a container's <c>runc checkpoint</c> with CRIU).
/// </summary>
public interface ICheckpointing
{
    /// <summary>Why this host cannot checkpoint the machine (the tool or kernel feature missing), or null when it can.</summary>
    string? CheckpointUnavailableReason();

    /// <summary>
    /// Writes the running machine to <paramref name="directory"/>, which must not exist yet; it appears whole or not at
    /// all. With <paramref name="leaveRunning"/> the machine goes on; without, its run ends (StoppedByUser, the detail
    /// naming the checkpoint) once the checkpoint is complete. A failure leaves the machine as it was.
    /// </summary>
    /// <exception cref="CheckpointException">The host cannot checkpoint, the folder exists, or the checkpoint failed (why is in the message).</exception>
    /// <exception cref="MachineStateException">The machine is not running.</exception>
    void Checkpoint(string directory, bool leaveRunning);
}

/// <summary>Optional for a model: it builds a runtime that resumes a checkpoint instead of booting.</summary>
public interface ICheckpointRestore
{
    /// <summary>
    /// Builds the machine of <paramref name="spec"/> (the definition the checkpoint was made with) so that its
    /// <see cref="IMachineRuntime.Run"/> resumes the checkpoint in <paramref name="checkpointDirectory"/>. The folder is
    /// checked whole before anything changes: a damaged, foreign or mismatched checkpoint, or a machine still running,
    /// is refused and leaves the machine as it was.
    /// </summary>
    /// <exception cref="CheckpointException">The checkpoint is unusable, or this host cannot restore it (why is in the message).</exception>
    /// <exception cref="MachineStateException">The machine is running.</exception>
    IMachineRuntime Restore(MachineSpec spec, MachineServices services, string checkpointDirectory);
}

/// <summary>A checkpoint could not be made or used; the message says why, naming the folder or file.</summary>
public sealed class CheckpointException(string message) : Exception(message);
