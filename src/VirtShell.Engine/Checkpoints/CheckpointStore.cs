using System.Text.Json;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Native;
using VirtShell.Engine.State;
using VirtShell.Engine.Store;

namespace VirtShell.Engine.Checkpoints;

/// <summary>
/// A machine's checkpoints on disk, <c>checkpoints/&lt;name&gt;/</c> in its folder, and its resume point,
/// <c>saved/</c>: the state the next start goes on from after a restore (the machine is then Saved). A checkpoint is
/// written into a hidden staging folder and renamed into place last, so it is whole or absent; removal renames it
/// aside first. Checkpoint files are never changed once written, so a resume point shares them by hard link.
/// </summary>
public static class CheckpointStore
{
    /// <summary>The folder of checkpoints inside a machine's folder.</summary>
    public const string Folder = "checkpoints";
    /// <summary>A checkpoint's record.</summary>
    public const string ManifestFile = "checkpoint.json";
    /// <summary>A VM checkpoint's saved state (docs/state-format.md).</summary>
    public const string StateFile = "state.vshstate";
    /// <summary>A container checkpoint's runc/CRIU folder.</summary>
    public const string ContainerFolder = "container";
    /// <summary>The resume point inside a machine's folder.</summary>
    public const string ResumeFolder = "saved";

    /// <summary>The checkpoints folder of the machine whose folder is <paramref name="machineDirectory"/>.</summary>
    public static string Root(string machineDirectory) => Path.Combine(machineDirectory, Folder);

    /// <summary>Hyper-V's default, "name - (date - time)", in local time, with '-' for the '/' a folder name cannot hold.</summary>
    public static string DefaultName(string machine, DateTimeOffset now) => $"{machine} - ({now.ToLocalTime():yyyy-MM-dd - HH:mm:ss})";

    /// <summary>Checks a checkpoint name, which is a folder name: 1-200 characters, no '/', no control characters, not starting with '.'.</summary>
    /// <exception cref="ArgumentException">It is not valid; the message says why.</exception>
    public static void ValidateName(string name)
    {
        if (name.Length is 0 or > 200 || name.StartsWith('.') || name.Contains('/') || name.Any(char.IsControl))
            throw new ArgumentException($"'{name}' is not a valid checkpoint name: use 1-200 characters without '/' or control characters, not starting with '.'", "CheckpointName");
    }

    /// <summary>The names of the machine's checkpoints, in ordinal order; folders being written or removed are left out.</summary>
    public static IReadOnlyList<string> Names(string machineDirectory)
    {
        string root = Root(machineDirectory);
        if (!Directory.Exists(root)) return [];
        return [.. Directory.EnumerateDirectories(root)
            .Select(d => Path.GetFileName(d))
            .Where(name => !name.StartsWith('.'))
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>Reads checkpoint <paramref name="name"/> of machine <paramref name="machine"/>.</summary>
    /// <exception cref="CheckpointNotFoundException">There is no such checkpoint.</exception>
    /// <exception cref="CheckpointException">Its checkpoint.json is missing, damaged, foreign, newer, or of another machine.</exception>
    public static MachineCheckpoint Open(string machineDirectory, string machine, string name)
    {
        ValidateName(name);
        string folder = Path.Combine(Root(machineDirectory), name);
        if (!Directory.Exists(folder))
            throw new CheckpointNotFoundException($"machine '{machine}' has no checkpoint named '{name}' (see Get-VirtCheckpoint -Name {machine})");
        var checkpoint = ReadManifest(folder);
        if (checkpoint.MachineName != machine || checkpoint.CheckpointName != name)
            throw new CheckpointException($"checkpoint '{folder}' is '{checkpoint.CheckpointName}' of machine '{checkpoint.MachineName}', not '{name}' of '{machine}'");
        return checkpoint with { Path = folder, SizeBytes = FolderSize(folder) };
    }

    /// <summary>Reads a checkpoint folder's record, checking that it is one this build reads.</summary>
    /// <exception cref="CheckpointException">Missing, damaged, foreign or newer; the message names the file.</exception>
    public static MachineCheckpoint ReadManifest(string folder)
    {
        string file = Path.Combine(folder, ManifestFile);
        MachineCheckpoint? checkpoint;
        try
        {
            checkpoint = JsonSerializer.Deserialize<MachineCheckpoint>(File.ReadAllText(file), MachineStore.Json);
        }
        catch (FileNotFoundException)
        {
            throw new CheckpointException($"checkpoint '{folder}' has no {ManifestFile}: it is not a VirtShell checkpoint, or was left half-written");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{file} is damaged or not a VirtShell checkpoint record: {e.Message}");
        }
        if (checkpoint is null || checkpoint.Format != MachineCheckpoint.FormatName)
            throw new CheckpointException($"{file} is not a VirtShell checkpoint record (format '{checkpoint?.Format}')");
        if (checkpoint.Version > MachineCheckpoint.FormatVersion || checkpoint.Version < 1)
            throw new CheckpointException($"{file}: checkpoint format version {checkpoint.Version} is not one this VirtShell reads (up to {MachineCheckpoint.FormatVersion})");
        if (checkpoint.StateFile is { } state && !IsPlainName(state))
            throw new CheckpointException($"{file}: its state file '{state}' is not a file of the checkpoint's folder");
        if (checkpoint.Disks.FirstOrDefault(d => !IsPlainName(d.File)) is { } disk)
            throw new CheckpointException($"{file}: its disk copy '{disk.File}' is not a file of the checkpoint's folder");
        return checkpoint;
    }

    /// <summary>
    /// Checks everything a restore will use before it changes anything: the saved state whole (every section's
    /// checksum, the end marker), each disk copy present at its recorded size.
    /// </summary>
    /// <exception cref="CheckpointException">Something is missing or damaged; the message names the file.</exception>
    public static void Verify(MachineCheckpoint checkpoint)
    {
        if (checkpoint.StateFile is { } stateFile)
        {
            string path = Path.Combine(checkpoint.Path, stateFile);
            if (stateFile == StateFile)
            {
                try { _ = SavedState.Load(path); }
                catch (StateFormatException e) { throw new CheckpointException($"checkpoint '{checkpoint}': {e.Message}"); }
                catch (FileNotFoundException) { throw new CheckpointException($"checkpoint '{checkpoint}': its saved state {path} is missing"); }
            }
            else if (!Directory.Exists(path)) throw new CheckpointException($"checkpoint '{checkpoint}': its state {path} is missing");
        }
        foreach (var disk in checkpoint.Disks)
        {
            var copy = new FileInfo(Path.Combine(checkpoint.Path, disk.File));
            if (!copy.Exists) throw new CheckpointException($"checkpoint '{checkpoint}': its copy of disk {disk.Image}, {copy.FullName}, is missing");
            if (copy.Length != disk.Size)
                throw new CheckpointException($"checkpoint '{checkpoint}': its copy of disk {disk.Image}, {copy.FullName}, is {copy.Length} bytes, not the {disk.Size} it was written with (truncated or changed)");
        }
    }

    /// <summary>
    /// Writes a checkpoint: <paramref name="fill"/> writes the state and disk copies into an empty staging folder and
    /// returns the record for them; the record is written and the folder renamed to its name last. Nothing is left
    /// behind on failure.
    /// </summary>
    /// <exception cref="CheckpointException">A checkpoint of that name exists.</exception>
    public static MachineCheckpoint Write(string machineDirectory, string name, Func<string, MachineCheckpoint> fill)
    {
        ValidateName(name);
        string root = Root(machineDirectory), target = Path.Combine(root, name);
        if (Directory.Exists(target)) throw new CheckpointException($"a checkpoint named '{name}' exists already in {root}");
        string staging = Path.Combine(root, $".new-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            var checkpoint = fill(staging) with { CheckpointName = name };
            AtomicFile.WriteAllText(Path.Combine(staging, ManifestFile), JsonSerializer.Serialize(checkpoint, MachineStore.Json));
            try { Directory.Move(staging, target); }
            catch (IOException) when (Directory.Exists(target))
            {
                throw new CheckpointException($"a checkpoint named '{name}' exists already in {root}");
            }
            return checkpoint with { Path = target, SizeBytes = FolderSize(target) };
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Deletes a checkpoint: renamed aside first, so a half-deleted one is never listed.</summary>
    public static void Remove(MachineCheckpoint checkpoint)
    {
        string doomed = Path.Combine(Path.GetDirectoryName(checkpoint.Path)!, $".removed-{Guid.NewGuid():N}");
        Directory.Move(checkpoint.Path, doomed);
        Directory.Delete(doomed, recursive: true);
    }

    /// <summary>The resume point's state (a saved-state file or a container checkpoint folder), or null when there is none.</summary>
    public static string? ResumeState(string machineDirectory)
    {
        string folder = Path.Combine(machineDirectory, ResumeFolder);
        foreach (var candidate in new[] { Path.Combine(folder, StateFile), Path.Combine(folder, ContainerFolder) })
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        return null;
    }

    /// <summary>
    /// Makes <paramref name="checkpoint"/>'s state the machine's resume point, or removes the resume point when the
    /// checkpoint has none, and puts its disk copies back over the images. Everything is staged beside its target
    /// first (a disk copy as a temporary file next to its image) and renamed into place at the end.
    /// </summary>
    public static void Restore(MachineCheckpoint checkpoint, string machineDirectory)
    {
        string staging = Path.Combine(machineDirectory, $".{ResumeFolder}-{Guid.NewGuid():N}");
        var disks = new List<(string Temporary, string Image)>();
        try
        {
            Directory.CreateDirectory(staging);
            if (checkpoint.StateFile is { } state) LinkOrCopy(Path.Combine(checkpoint.Path, state), Path.Combine(staging, state));
            foreach (var disk in checkpoint.Disks)
            {
                string temporary = $"{disk.Image}.restore-{Guid.NewGuid():N}";
                disks.Add((temporary, disk.Image));
                DiskCapture.Capture(Path.Combine(checkpoint.Path, disk.File), temporary);
            }
            foreach (var (temporary, image) in disks) File.Move(temporary, image, overwrite: true);
            DiscardResume(machineDirectory);
            if (checkpoint.HasState) Directory.Move(staging, Path.Combine(machineDirectory, ResumeFolder));
        }
        finally
        {
            foreach (var (temporary, _) in disks) File.Delete(temporary);
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Removes the resume point, if any (once a run has gone on from it, or before another replaces it).</summary>
    public static void DiscardResume(string machineDirectory)
    {
        string folder = Path.Combine(machineDirectory, ResumeFolder);
        if (!Directory.Exists(folder)) return;
        string doomed = Path.Combine(machineDirectory, $".{ResumeFolder}-removed-{Guid.NewGuid():N}");
        Directory.Move(folder, doomed);
        Directory.Delete(doomed, recursive: true);
    }

    /// <summary>A hard link of a file, or of every file of a folder; a copy where the file system has no hard links.</summary>
    internal static void LinkOrCopy(string source, string destination)
    {
        if (Directory.Exists(source))
        {
            Directory.CreateDirectory(destination);
            foreach (var entry in Directory.EnumerateFileSystemEntries(source))
                LinkOrCopy(entry, Path.Combine(destination, Path.GetFileName(entry)));
        }
        else if (Libc.link(source, destination) != 0) File.Copy(source, destination);
    }

    /// <summary>The apparent size of every file under <paramref name="folder"/>.</summary>
    internal static long FolderSize(string folder) =>
        new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    private static bool IsPlainName(string name) => name.Length > 0 && name == Path.GetFileName(name) && name is not ("." or "..");
}
