using System.Collections;
using System.Text.Json;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Migration;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Remoting;

/// <summary>
/// The calls <see cref="HostMigration"/> makes on each host for a pre-copy, through the scripts it sends over the
/// sessions (or directly on this host): on the source, the machine's host process streams its RAM
/// (<see cref="Machine.StartPreCopy"/>); on the destination, the pieces gather in a file in the store that joins the
/// imported machine's saved state. For Move-VirtMachine, not for scripts of their own.
/// </summary>
public static class PreCopyEndpoint
{
    /// <summary>Begins the pre-copy of running machine <paramref name="name"/>: null, or why its model cannot.</summary>
    public static string? Start(string name) => Call(name, control => control.StartPreCopyAsync(CancellationToken.None));

    /// <summary>The next piece, framed for the destination's stream file; empty at the end of a phase.</summary>
    public static byte[] Next(string name) =>
        Call(name, control => control.NextPreCopyPieceAsync(CancellationToken.None)) is { } piece ? PreCopyStream.Frame(piece) : [];

    /// <summary>
    /// Pauses the machine for the last round: Rounds (JSON, the last one too unless More), StreamBytes (its first
    /// pieces, framed) and More (pieces left for <see cref="Next"/>).
    /// </summary>
    public static Hashtable Pause(string name)
    {
        var pause = Call(name, control => control.PausePreCopyAsync(CancellationToken.None));
        return new Hashtable { ["Rounds"] = JsonSerializer.Serialize(pause.Rounds), ["StreamBytes"] = pause.StreamBytes, ["More"] = pause.More };
    }

    /// <summary>A new file for machine <paramref name="name"/>'s incoming stream, in this host's store (the machine's folder's file system).</summary>
    public static string IncomingPath(string name) =>
        Path.Combine(VirtShellSession.Current.Store.MachinesDirectory, $".incoming-{name}-{Guid.NewGuid():N}.vsmig");

    /// <summary>
    /// Appends <paramref name="last"/> (framed pieces) to the stream at <paramref name="streamPath"/> and puts it beside
    /// imported machine <paramref name="name"/>'s saved state, for its start.
    /// </summary>
    public static void Accept(string name, string streamPath, byte[] last)
    {
        using (var file = new FileStream(streamPath, FileMode.Append, FileAccess.Write)) file.Write(last);
        var machine = Find(name);
        string state = CheckpointStore.ResumeState(machine.Directory)
            ?? throw new MachineStateException($"machine '{name}' has no saved state for its pre-copy stream to complete");
        File.Move(streamPath, PreCopyStream.Beside(state));
    }

    private static Machine Find(string name) =>
        VirtShellSession.Current.Host.Find(name) ?? throw new MachineStateException($"there is no machine named '{name}' on this host");

    private static T Call<T>(string name, Func<IMachineControl, Task<T>> call) => VirtShellSession.Current.Call(Find(name), call);
}
