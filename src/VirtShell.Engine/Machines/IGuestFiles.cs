namespace VirtShell.Engine.Machines;

/// <summary>
/// Files inside a machine that hooks may read and write before and while it runs: a container's root filesystem.
/// Paths are the guest's own; an implementation must keep every access inside the guest (no escape by symlink).
/// </summary>
public interface IGuestFiles
{
    /// <summary>Creates or replaces the file at <paramref name="path"/> with <paramref name="content"/>, with permission bits <paramref name="mode"/>; missing folders are made.</summary>
    /// <exception cref="ArgumentException">The path is not absolute.</exception>
    /// <exception cref="IOException">The path cannot be written, or resolves outside the guest.</exception>
    void WriteFile(string path, ReadOnlySpan<byte> content, uint mode);
    /// <summary>The whole content of the file at <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">The path is not absolute.</exception>
    /// <exception cref="IOException">The file cannot be read, or resolves outside the guest.</exception>
    byte[] ReadFile(string path);
}
