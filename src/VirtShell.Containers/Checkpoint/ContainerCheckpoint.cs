using System.Security.Cryptography;
using System.Text.Json;
using VirtShell.Engine.Machines;

namespace VirtShell.Containers.Checkpoint;

/// <summary>What checkpoint.json records besides the file list: whose checkpoint it is and what it was made from.</summary>
public sealed record CheckpointManifest
{
    public string Format { get; init; } = "";
    public int Version { get; init; }
    public string Model { get; init; } = "";
    public string Machine { get; init; } = "";
    public DateTime Created { get; init; }
    /// <summary>The image folder the overlay's lower layer was; a restore needs the same image.</summary>
    public string LowerImage { get; init; } = "";
    /// <summary>Whether the container went on after the checkpoint (runc checkpoint --leave-running).</summary>
    public bool LeftRunning { get; init; }
    public string? Criu { get; init; }
    public string? Runc { get; init; }
    public IReadOnlyList<CheckpointFile> Files { get; init; } = [];
}

/// <summary>One file of the checkpoint, relative to its folder, with what it must read back as.</summary>
public sealed record CheckpointFile(string Path, long Size, string Sha256);

/// <summary>
/// A container checkpoint folder: <c>criu/</c> (CRIU's images as <c>runc checkpoint</c> wrote them, with runc's
/// descriptors.json), <c>upper.tar</c> (the overlay's upper layer, <see cref="UpperLayer"/>), <c>config.json</c> (the
/// bundle the container ran with), <c>dump.log</c> (CRIU's log, for diagnosis only) and <c>checkpoint.json</c>, which
/// lists every other file with its size and SHA-256. <see cref="Open"/> checks all of it before a restore changes
/// anything. Files CRIU adds later (its stats-restore image) are not listed and not checked.
/// </summary>
public sealed class ContainerCheckpoint
{
    public const string FormatName = "virtshell-container-checkpoint";
    /// <summary>Raised when the layout changes; a reader refuses versions it does not know rather than half-read them.</summary>
    public const int FormatVersion = 1;
    public const string ManifestFile = "checkpoint.json";
    public const string ImagesFolder = "criu";
    public const string UpperArchive = "upper.tar";
    public const string ConfigFile = "config.json";
    public const string DumpLog = "dump.log";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private ContainerCheckpoint(string directory, CheckpointManifest manifest)
    {
        Directory = directory;
        Manifest = manifest;
    }

    public string Directory { get; }
    public CheckpointManifest Manifest { get; }
    public string Images => Path.Combine(Directory, ImagesFolder);
    public string Upper => Path.Combine(Directory, UpperArchive);
    public string Config => Path.Combine(Directory, ConfigFile);

    /// <summary>
    /// Writes checkpoint.json into a folder that holds everything else, listing and hashing every file but the log:
    /// the last step before the folder is renamed into place.
    /// </summary>
    public static void Seal(string directory, CheckpointManifest manifest)
    {
        var files = System.IO.Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(directory, f))
            .Where(f => f is not (ManifestFile or DumpLog))
            .Order(StringComparer.Ordinal)
            .Select(f => new CheckpointFile(f, new FileInfo(Path.Combine(directory, f)).Length, Hash(Path.Combine(directory, f))))
            .ToList();
        var sealedManifest = manifest with { Format = FormatName, Version = FormatVersion, Files = files };
        File.WriteAllText(Path.Combine(directory, ManifestFile), JsonSerializer.Serialize(sealedManifest, Json));
    }

    /// <summary>
    /// Reads and checks a checkpoint folder: a VirtShell container checkpoint of a version this build reads, with every
    /// listed file present, of its size and content, and the parts a restore needs. Throws
    /// <see cref="CheckpointException"/> saying what is wrong, the folder's path first.
    /// </summary>
    public static ContainerCheckpoint Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(directory)) throw Bad(directory, "no such folder");
        string manifestPath = Path.Combine(directory, ManifestFile);
        if (!File.Exists(manifestPath)) throw Bad(directory, $"not a VirtShell container checkpoint (it has no {ManifestFile})");
        CheckpointManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<CheckpointManifest>(File.ReadAllText(manifestPath), Json); }
        catch (JsonException e) { throw Bad(directory, $"{ManifestFile} is damaged: {e.Message}"); }
        if (manifest is null || manifest.Format != FormatName)
            throw Bad(directory, $"not a VirtShell container checkpoint ({ManifestFile} is not of format '{FormatName}')");
        if (manifest.Version > FormatVersion)
            throw Bad(directory, $"checkpoint format version {manifest.Version} is newer than this VirtShell reads (up to {FormatVersion})");
        if (manifest.Version < 1) throw Bad(directory, $"checkpoint format version {manifest.Version} does not exist");
        if (manifest.Model != "container")
            throw Bad(directory, $"it is a checkpoint of a '{manifest.Model}' machine, not of a container");

        foreach (var file in manifest.Files ?? [])
        {
            if (file.Path is null || Path.IsPathRooted(file.Path) || file.Path.Split('/').Contains(".."))
                throw Bad(directory, $"{ManifestFile} lists a file outside the checkpoint ('{file.Path}')");
            string path = Path.Combine(directory, file.Path);
            if (!File.Exists(path)) throw Bad(directory, $"{file.Path} is missing");
            long size = new FileInfo(path).Length;
            if (size != file.Size)
                throw Bad(directory, size < file.Size
                    ? $"{file.Path} is truncated ({size} of {file.Size} bytes)"
                    : $"{file.Path} is {size} bytes, {file.Size} were written");
            if (!string.Equals(Hash(path), file.Sha256, StringComparison.OrdinalIgnoreCase))
                throw Bad(directory, $"{file.Path} is corrupt (its SHA-256 does not match)");
        }
        var listed = (manifest.Files ?? []).Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
        foreach (var needed in new[] { ConfigFile, UpperArchive, $"{ImagesFolder}/inventory.img", $"{ImagesFolder}/descriptors.json" })
            if (!listed.Contains(needed)) throw Bad(directory, $"{ManifestFile} does not list {needed}, which a restore needs");
        return new ContainerCheckpoint(directory, manifest);
    }

    /// <summary>
    /// Refuses a checkpoint made for another machine or definition: the bundle it ran with must be the one this
    /// machine's definition makes now, over the same image.
    /// </summary>
    public void CheckFits(string machineName, string lowerImage, string config)
    {
        if (Manifest.Machine != machineName)
            throw Bad(Directory, $"it is a checkpoint of machine '{Manifest.Machine}', not of '{machineName}'");
        if (Manifest.LowerImage != lowerImage)
            throw Bad(Directory, $"it was made over the image '{Manifest.LowerImage}'; the definition now gives '{lowerImage}'");
        if (File.ReadAllText(Config) != config)
            throw Bad(Directory, "it was made with another definition (the container's config.json differs from the one the definition makes now)");
    }

    private static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static CheckpointException Bad(string directory, string what) => new($"checkpoint '{directory}': {what}");
}
