using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.State;
using VirtShell.Engine.Store;

namespace VirtShell.Engine.Checkpoints;

/// <summary>What an export's first entry, virtshell-export.json, records (docs/state-format.md, "Exports").</summary>
public sealed record ExportManifest
{
    /// <summary><see cref="MachineArchive.FormatName"/>; anything else is not an export.</summary>
    public string Format { get; init; } = MachineArchive.FormatName;
    /// <summary>The layout's version.</summary>
    public int Version { get; init; } = MachineArchive.FormatVersion;
    /// <summary>The machine's name when it was exported; an import takes it unless given another.</summary>
    public required string Machine { get; init; }
    /// <summary>Its model.</summary>
    public required string Model { get; init; }
    /// <summary>When it was exported (UTC).</summary>
    public DateTimeOffset ExportedAt { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>The engine version that exported it.</summary>
    public string EngineVersion { get; init; } = SavedState.CurrentEngineVersion;
    /// <summary>The definition file's entry, under <c>definition/</c>.</summary>
    public required string Definition { get; init; }
    /// <summary>The saved state's entry, or null when the machine goes along at rest (its next start boots).</summary>
    public string? State { get; init; }
    /// <summary>Every other entry, with its size and SHA-256, in archive order.</summary>
    public IReadOnlyList<ExportFile> Files { get; init; } = [];
    /// <summary>Files the definition names outside its folder, not carried: the importing host must have them.</summary>
    public IReadOnlyList<string> External { get; init; } = [];
}

/// <summary>One entry of an export with what it must read back as.</summary>
public sealed record ExportFile(string Path, long Size, string Sha256);

/// <summary>
/// A machine as one portable file: a tar archive whose first entry, virtshell-export.json, lists every other entry
/// with its size and SHA-256 — the definition's folder as far as the definition uses it (its file, the modules it
/// imports, the files it names, its writable disks as captured), the machine's record, and its saved state if it
/// was running or Saved. An import checks every entry while unpacking into a hidden folder, and the machine appears
/// only once all of it is whole.
/// </summary>
public static partial class MachineArchive
{
    /// <summary>What <see cref="ExportManifest.Format"/> says.</summary>
    public const string FormatName = "virtshell-export";
    /// <summary>The layout this build writes and the newest it reads.</summary>
    public const int FormatVersion = 1;
    /// <summary>The manifest's entry, always the first.</summary>
    public const string ManifestEntry = "virtshell-export.json";
    private const string DefinitionFolder = "definition", RecordEntry = "machine.json";

    /// <summary>
    /// Writes machine <paramref name="record"/>, with the state and disk copies <paramref name="capture"/> took, to
    /// <paramref name="path"/>: written aside and renamed, so the file is whole or absent.
    /// </summary>
    /// <exception cref="MachineStateException">A writable disk image is outside the definition's folder, so an import could not carry it.</exception>
    public static void Export(MachineRecord record, MachineCheckpoint capture, string path)
    {
        string definition = record.Spec.DefinitionPath ?? throw new DefinitionException($"machine '{record.Name}' has no definition file");
        string folder = Path.GetDirectoryName(definition)!;
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal); // entry -> file to read
        var external = new SortedSet<string>(StringComparer.Ordinal);
        void Carry(string file)
        {
            string relative = Path.GetRelativePath(folder, file);
            if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative)) external.Add(file);
            else files.TryAdd($"{DefinitionFolder}/{relative}", file);
        }
        foreach (var disk in capture.Disks)
        {
            if (Path.GetRelativePath(folder, disk.Image).StartsWith("..", StringComparison.Ordinal))
                throw new MachineStateException($"machine '{record.Name}': its disk image {disk.Image} is outside its definition's folder {folder}, so an export cannot carry it; move it there and name it relative to the definition");
            files[$"{DefinitionFolder}/{Path.GetRelativePath(folder, disk.Image)}"] = Path.Combine(capture.Path, disk.File);
        }
        foreach (var module in DefinitionModules(definition)) Carry(module);
        foreach (var file in NamedFiles(record.Spec).Where(File.Exists)) Carry(file);
        string? state = capture.StateFile is null ? null : Path.Combine(capture.Path, capture.StateFile);
        if (state != null && !File.Exists(state))
            throw new MachineStateException($"machine '{record.Name}' is a {record.Spec.Model} machine whose saved state cannot be exported (only a VM's state file can)");

        string recordFile = Path.Combine(capture.Path, RecordEntry);
        File.WriteAllText(recordFile, JsonSerializer.Serialize(record, MachineStore.Json));
        var entries = files.Select(f => (Entry: f.Key, File: f.Value)).Append((Entry: RecordEntry, File: recordFile)).ToList();
        if (state != null) entries.Add((CheckpointStore.StateFile, state));
        var manifest = new ExportManifest
        {
            Machine = record.Name, Model = record.Spec.Model, State = state is null ? null : CheckpointStore.StateFile,
            Definition = $"{DefinitionFolder}/{Path.GetFileName(definition)}",
            Files = [.. entries.Select(e => new ExportFile(e.Entry, new FileInfo(e.File).Length, Hash(e.File)))],
            External = [.. external],
        };

        string partial = $"{path}.partial-{Guid.NewGuid():N}";
        try
        {
            using (var output = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                using (var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
                {
                    var manifestEntry = new PaxTarEntry(TarEntryType.RegularFile, ManifestEntry)
                    {
                        DataStream = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest, MachineStore.Json)),
                    };
                    tar.WriteEntry(manifestEntry);
                    foreach (var (entry, file) in entries) tar.WriteEntry(file, entry);
                }
                output.Flush(flushToDisk: true);
            }
            File.Move(partial, path, overwrite: false);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    /// <summary>
    /// Makes a machine from the export at <paramref name="path"/>, named <paramref name="name"/> or as it was
    /// exported: unpacked into a hidden folder with every entry checked against the manifest, its definition
    /// validated there under its new name, then renamed into place; Saved if the export has a state (the first start
    /// goes on from it), else Created. Nothing is left behind on failure.
    /// </summary>
    /// <exception cref="ExportFormatException">The file is not a whole, intact export this build reads; the message names it.</exception>
    /// <exception cref="MachineExistsException">A machine of that name exists.</exception>
    /// <exception cref="DefinitionException">The definition is not valid here (a file it names outside its folder is missing).</exception>
    public static Machine Import(VirtualizationHost host, string path, string? name)
    {
        var store = host.Store;
        string staging = Path.Combine(store.MachinesDirectory, $".import-{Guid.NewGuid():N}");
        string? placed = null;
        try
        {
            ExportManifest manifest;
            using (var input = OpenExport(path))
            {
                using var tar = new TarReader(input);
                manifest = ReadManifest(path, tar);
                name ??= manifest.Machine;
                MachineStore.ValidateName(name);
                if (store.Exists(name) || Directory.Exists(store.MachineDirectory(name))) throw new MachineExistsException(name);
                Unpack(path, tar, manifest, staging);
            }
            string target = store.MachineDirectory(name);
            try { Directory.Move(staging, target); }
            catch (IOException) when (Directory.Exists(target)) { throw new MachineExistsException(name); }
            placed = target;
            var spec = host.Validate(Path.Combine(target, manifest.Definition), name);
            if (spec.Model != manifest.Model)
                throw new ExportFormatException($"{path}: it is an export of a '{manifest.Model}' machine, but its definition now says '{spec.Model}'");
            if (manifest.State != null)
            {
                Directory.CreateDirectory(Path.Combine(target, CheckpointStore.ResumeFolder));
                File.Move(Path.Combine(target, manifest.State), Path.Combine(target, CheckpointStore.ResumeFolder, CheckpointStore.StateFile));
            }
            File.Delete(Path.Combine(target, RecordEntry)); // the exported record is for the reader; the new machine gets its own
            store.Save(new MachineRecord { Name = name, Spec = spec, State = manifest.State != null ? MachineState.Saved : MachineState.Created });
            placed = null;
            return host.Find(name)!;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            if (placed != null) Directory.Delete(placed, recursive: true);
        }
    }

    private static FileStream OpenExport(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ExportFormatException($"{path}: no such file");
        }
    }

    private static ExportManifest ReadManifest(string path, TarReader tar)
    {
        TarEntry? first;
        try { first = tar.GetNextEntry(); }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException)
        {
            throw new ExportFormatException($"{path}: not a VirtShell export (not a tar archive: {e.Message})");
        }
        if (first is null || first.Name != ManifestEntry || first.DataStream is null)
            throw new ExportFormatException($"{path}: not a VirtShell export (its first entry is not {ManifestEntry})");
        ExportManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<ExportManifest>(first.DataStream, MachineStore.Json); }
        catch (JsonException e) { throw new ExportFormatException($"{path}: its {ManifestEntry} is damaged: {e.Message}"); }
        if (manifest is null || manifest.Format != FormatName)
            throw new ExportFormatException($"{path}: not a VirtShell export (format '{manifest?.Format}')");
        if (manifest.Version is < 1 or > FormatVersion)
            throw new ExportFormatException($"{path}: export format version {manifest.Version} is not one this VirtShell reads (up to {FormatVersion})");
        foreach (var file in manifest.Files)
            if (!IsSafeEntry(file.Path)) throw new ExportFormatException($"{path}: its entry '{file.Path}' is not a path inside the export");
        if (manifest.Files.All(f => f.Path != manifest.Definition) || !manifest.Definition.StartsWith(DefinitionFolder + "/", StringComparison.Ordinal))
            throw new ExportFormatException($"{path}: its definition '{manifest.Definition}' is not among its files");
        if (manifest.State != null && manifest.Files.All(f => f.Path != manifest.State))
            throw new ExportFormatException($"{path}: its state '{manifest.State}' is not among its files");
        return manifest;
    }

    /// <summary>Writes every entry under <paramref name="folder"/>, checking each against the manifest as it goes.</summary>
    private static void Unpack(string path, TarReader tar, ExportManifest manifest, string folder)
    {
        var expected = manifest.Files.ToDictionary(f => f.Path, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Directory.CreateDirectory(folder);
        try
        {
            while (tar.GetNextEntry() is { } entry)
            {
                if (!expected.TryGetValue(entry.Name, out var file) || !seen.Add(entry.Name) || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    throw new ExportFormatException($"{path}: its entry '{entry.Name}' is not one its manifest lists (a foreign or altered archive)");
                string target = Path.Combine(folder, entry.Name);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                long size = 0;
                using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    var buffer = new byte[1 << 20];
                    int read;
                    while (entry.DataStream is { } data && (read = data.Read(buffer)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                        output.Write(buffer, 0, read);
                        size += read;
                    }
                }
                if (size < file.Size)
                    throw new ExportFormatException($"{path}: the file is truncated: its entry '{entry.Name}' ends after {size} of its {file.Size} bytes");
                if (size != file.Size || Convert.ToHexStringLower(hash.GetHashAndReset()) != file.Sha256)
                    throw new ExportFormatException($"{path}: its entry '{entry.Name}' is corrupt ({size} bytes, its SHA-256 does not match the manifest's)");
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            throw new ExportFormatException($"{path}: the file is truncated or corrupt ({e.Message})");
        }
        if (manifest.Files.FirstOrDefault(f => !seen.Contains(f.Path)) is { } missing)
            throw new ExportFormatException($"{path}: the file is truncated: its entry '{missing.Path}' is missing");
    }

    private static bool IsSafeEntry(string entry) =>
        entry.Length > 0 && !entry.StartsWith('/') && !entry.Contains('\\') && entry.Split('/').All(part => part is not ("" or "." or ".."));

    /// <summary>The definition file and the modules it imports by relative specifier, transitively.</summary>
    private static IEnumerable<string> DefinitionModules(string definition)
    {
        var found = new List<string>();
        var pending = new Stack<string>([definition]);
        while (pending.TryPop(out var file))
        {
            if (found.Contains(file) || !File.Exists(file)) continue;
            found.Add(file);
            foreach (Match import in ImportSpecifier().Matches(File.ReadAllText(file)))
                pending.Push(Path.GetFullPath(import.Groups["path"].Value, Path.GetDirectoryName(file)!));
        }
        return found;
    }

    [GeneratedRegex(@"(?:\bfrom|\bimport)\s*\(?\s*['""](?<path>\.{1,2}/[^'""]+)['""]")]
    private static partial Regex ImportSpecifier();

    /// <summary>The absolute paths a spec names: boot files and every device setting that is one or maps names to them (blobs).</summary>
    private static IEnumerable<string> NamedFiles(MachineSpec spec)
    {
        if (spec.Boot is { } boot)
        {
            yield return boot.Image;
            if (boot.Kernel != null) yield return boot.Kernel;
            if (boot.Initrd != null) yield return boot.Initrd;
            foreach (var module in boot.Modules) yield return module.Path;
        }
        foreach (var device in spec.Devices)
            foreach (var text in device.Settings.Values.SelectMany(Strings))
                if (Path.IsPathRooted(text)) yield return text;
    }

    /// <summary>The strings a setting holds: itself, or a map's values; plain, or as the store's JSON gives them back.</summary>
    private static IEnumerable<string> Strings(object? value) => value switch
    {
        string text => [text],
        JsonElement { ValueKind: JsonValueKind.String } json => [json.GetString()!],
        IReadOnlyDictionary<string, object?> map => map.Values.SelectMany(Strings),
        JsonElement { ValueKind: JsonValueKind.Object } json => json.EnumerateObject().SelectMany(p => Strings(p.Value)),
        _ => [],
    };

    private static string Hash(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>A file that is not a whole, intact VirtShell export this build reads; the message names it and says what is wrong.</summary>
public sealed class ExportFormatException(string message) : Exception(message);
