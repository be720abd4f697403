using Microsoft.Win32.SafeHandles;
using VirtShell.Containers.Native;
using VirtShell.Engine.Native;

namespace VirtShell.Containers.Rootfs;

/// <summary>
/// Reads and writes files of a container's root filesystem from the host (for beforeBoot hooks), with paths as the
/// container sees them. Every lookup goes through openat2(RESOLVE_IN_ROOT), so a symlink or ".." planted in the
/// image can never redirect a write to the host. Writes land in the machine's upper layer, never in the image.
/// </summary>
public sealed class RootfsFiles(string root)
{
    private const uint DirectoryMode = 0x1ED; // 0755

    public string Root { get; } = root;

    /// <summary>Creates or replaces <paramref name="path"/> (parents made 0755) with <paramref name="content"/> and <paramref name="mode"/>.</summary>
    public void WriteFile(string path, ReadOnlySpan<byte> content, uint mode = 0x1A4 /* 0644 */)
    {
        var parts = Split(path);
        using var root = LinuxCalls.OpenDirectory(Root);
        for (int i = 1; i < parts.Length; i++)
        {
            string prefix = string.Join('/', parts[..i]);
            var (dir, errno) = LinuxCalls.OpenInRoot(root, prefix, Libc.O_PATH | Libc.O_DIRECTORY, 0);
            if (dir == null && errno == Libc.ENOENT)
            {
                using var parent = i == 1 ? null : Open(root, string.Join('/', parts[..(i - 1)]), Libc.O_PATH | Libc.O_DIRECTORY);
                LinuxCalls.MakeDirectory(parent ?? root, parts[i - 1], DirectoryMode);
                (dir, errno) = LinuxCalls.OpenInRoot(root, prefix, Libc.O_PATH | Libc.O_DIRECTORY, 0);
            }
            if (dir == null) throw Failure(path, $"/{prefix}", errno);
            dir.Dispose();
        }
        using var file = Open(root, string.Join('/', parts), Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC, mode, path);
        LinuxCalls.ChangeMode(file, mode); // the umask must not decide what the definition asked for
        RandomAccess.Write(file, content, 0);
    }

    public byte[] ReadFile(string path)
    {
        using var root = LinuxCalls.OpenDirectory(Root);
        using var file = Open(root, string.Join('/', Split(path)), Libc.O_RDONLY, 0, path);
        using var stream = new FileStream(file, FileAccess.Read);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Whether <paramref name="path"/> is a regular file with an execute bit, as the container would see it.</summary>
    public bool IsProgram(string path)
    {
        using var root = LinuxCalls.OpenDirectory(Root);
        var (file, _) = LinuxCalls.OpenInRoot(root, string.Join('/', Split(path)), Libc.O_PATH, 0);
        if (file == null) return false;
        using (file)
        {
            uint mode = LinuxCalls.FileMode(file);
            const uint AnyExecute = 0x49; // 0111
            return (mode & Libc.S_IFMT) == Libc.S_IFREG && (mode & AnyExecute) != 0;
        }
    }

    private static SafeFileHandle Open(SafeFileHandle root, string relative, int flags, uint mode = 0, string? shown = null)
    {
        var (handle, errno) = LinuxCalls.OpenInRoot(root, relative, flags, mode);
        return handle ?? throw Failure(shown ?? "/" + relative, "/" + relative, errno);
    }

    private static string[] Split(string path)
    {
        if (!path.StartsWith('/')) throw new ArgumentException($"'{path}' must be an absolute path inside the container", nameof(path));
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > 0 ? parts : throw new ArgumentException("'/' is not a file", nameof(path));
    }

    private static IOException Failure(string path, string at, int errno) =>
        new($"{path}: {at} inside the container: {Libc.Describe(errno)}");
}
