using System.Text.Json.Serialization;
using VirtShell.Engine.Machines;
using VirtShell.Engine.State;

namespace VirtShell.Engine.Checkpoints;

/// <summary>
/// One checkpoint of a machine, as its folder's checkpoint.json records it (docs/state-format.md, "Checkpoints"):
/// whose and when, the model, the saved state file if the machine was running (none for a checkpoint of a machine
/// at rest: its disks only), and each disk image captured with how.
/// </summary>
public sealed record MachineCheckpoint
{
    /// <summary>What <see cref="Format"/> says in every checkpoint.json.</summary>
    public const string FormatName = "virtshell-checkpoint";
    /// <summary>The layout this build writes and the newest it reads.</summary>
    public const int FormatVersion = 1;

    /// <summary><see cref="FormatName"/>; anything else is not a checkpoint.</summary>
    public string Format { get; init; } = FormatName;
    /// <summary>The layout's version.</summary>
    public int Version { get; init; } = FormatVersion;
    /// <summary>The machine the checkpoint is of.</summary>
    public required string MachineName { get; init; }
    /// <summary>The checkpoint's name, which is also its folder's.</summary>
    public required string CheckpointName { get; init; }
    /// <summary>When it was taken (UTC).</summary>
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>The machine's model; a restore into another is refused.</summary>
    public required string Model { get; init; }
    /// <summary>The engine version that took it.</summary>
    public string EngineVersion { get; init; } = SavedState.CurrentEngineVersion;
    /// <summary>The machine's state when it was taken: Running or Paused (with a saved state), or a state at rest.</summary>
    public MachineState TakenWhile { get; init; }
    /// <summary>The saved state's file in the folder (a VM's), or the container checkpoint's folder; null for a checkpoint of a machine at rest.</summary>
    public string? StateFile { get; init; }
    /// <summary>The writable disk images captured, each with the file in the folder and how it was made.</summary>
    public IReadOnlyList<CheckpointDisk> Disks { get; init; } = [];

    /// <summary>How the disks were captured, for a listing: Reflink, Copy, both ("Reflink, Copy"), or None.</summary>
    [JsonIgnore]
    public string DiskCapture => Disks.Count == 0 ? "None" : string.Join(", ", Disks.Select(d => d.Method).Distinct());

    /// <summary>Whether restoring it makes the next start go on where the machine was (false: the next start boots).</summary>
    [JsonIgnore]
    public bool HasState => StateFile != null;

    /// <summary>The checkpoint's folder; set when read from disk.</summary>
    [JsonIgnore]
    public string Path { get; init; } = "";

    /// <summary>The bytes its files take (apparent sizes; a reflinked disk shares most of them with the image).</summary>
    [JsonIgnore]
    public long SizeBytes { get; init; }

    /// <summary>"machine/checkpoint".</summary>
    public override string ToString() => $"{MachineName}/{CheckpointName}";
}

/// <summary>A disk image of a checkpoint: the image the machine uses, its copy's file name in the folder, its size and how it was made.</summary>
public sealed record CheckpointDisk(string Image, string File, long Size, DiskCaptureMethod Method);

/// <summary>No checkpoint of that name; the message names the machine and the checkpoint.</summary>
public sealed class CheckpointNotFoundException(string message) : Exception(message);
