namespace VirtShell.Engine.Machines;

/// <summary>
/// Files inside a machine that hooks may read and write before and while it runs: a container's root filesystem.
/// Paths are the guest's own; an implementation must keep every access inside the guest (no escape by symlink).
/// </summary>
public interface IGuestFiles
{
    void WriteFile(string path, ReadOnlySpan<byte> content, uint mode);
    byte[] ReadFile(string path);
}
