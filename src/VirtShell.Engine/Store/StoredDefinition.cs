using System.Security.Cryptography;

namespace VirtShell.Engine.Store;

/// <summary>
/// The copy of its definition a machine keeps in its folder, which every start reads: code only (the definition
/// and the modules it imported, at the same places relative to each other), so editing or deleting the original
/// changes nothing. Data the definition names (boot images, disks, blobs) is not copied: relative paths go on
/// resolving against the original's folder (<see cref="Definitions.MachineSpec.DefinitionPath"/>).
/// </summary>
/// <param name="Copy">The stored definition, relative to the machine's folder: <c>definition-ID/NAME.js</c>.</param>
/// <param name="Sha256">SHA-256 of the stored definition's bytes, upper-case hex (as Get-FileHash gives it).</param>
public sealed record StoredDefinition(string Copy, string Sha256)
{
    private const string FolderPrefix = "definition-";

    /// <summary>The folder of the copy, relative to the machine's folder.</summary>
    public string Folder => Path.GetDirectoryName(Copy)!;

    /// <summary>
    /// Copies <paramref name="definition"/> and those of <paramref name="files"/> inside its folder tree (where a
    /// definition may import from) into a new folder of <paramref name="machineDirectory"/>, written under a hidden
    /// name and renamed into place, so a copy is whole or absent.
    /// </summary>
    public static StoredDefinition Write(string machineDirectory, string definition, IEnumerable<string> files)
    {
        string root = Path.GetDirectoryName(definition)!;
        string folder = FolderPrefix + Guid.NewGuid().ToString("N")[..12];
        string staging = Path.Combine(machineDirectory, "." + folder);
        Directory.CreateDirectory(staging);
        try
        {
            foreach (var file in files.Append(definition).Distinct(StringComparer.Ordinal))
            {
                string relative = Path.GetRelativePath(root, file);
                if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative)) continue;
                string target = Path.Combine(staging, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            string copy = Path.Combine(folder, Path.GetFileName(definition));
            string hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(staging, Path.GetFileName(definition)))));
            Directory.Move(staging, Path.Combine(machineDirectory, folder));
            return new StoredDefinition(copy, hash);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Deletes the copies in <paramref name="machineDirectory"/> other than <paramref name="keep"/>'s (a replaced one, or one a crash left half made).</summary>
    public static void DeleteOthers(string machineDirectory, StoredDefinition? keep)
    {
        foreach (var dir in Directory.EnumerateDirectories(machineDirectory, "*" + FolderPrefix + "*"))
        {
            string name = Path.GetFileName(dir);
            if (name.TrimStart('.').StartsWith(FolderPrefix, StringComparison.Ordinal) && name != keep?.Folder)
                Directory.Delete(dir, recursive: true);
        }
    }
}
