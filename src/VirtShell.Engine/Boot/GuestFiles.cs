using Microsoft.Win32.SafeHandles;
using VirtShell.Engine.Native;

namespace VirtShell.Engine.Boot;

/// <summary>
/// Files a definition hands to the guest whole: the boot image, initrd and modules, hypercall blobs. Each must be a
/// regular file within a size limit. A path such as /dev/zero or /dev/urandom would otherwise pass a File.Exists check
/// with a length of 0 and then be read until the host runs out of memory; a FIFO would block the read for good.
/// Models check with <see cref="Problem"/> when they validate a definition; loaders read with <see cref="Read"/>,
/// which checks again on the file it opened.
/// </summary>
public static class GuestFiles
{
    /// <summary>
    /// What is wrong with <paramref name="path"/> as such a file of at most <paramref name="maxBytes"/> bytes
    /// (<paramref name="limit"/> says what that bound is, e.g. "the machine's memory (1 MiB)"), or null. The text
    /// reads after the file's name: "does not exist", "is a character device, not a regular file"...
    /// </summary>
    public static string? Problem(string path, long maxBytes, string limit)
    {
        if (!TryStat(path, out uint mode, out long size, out string? error)) return error;
        return ProblemWith(mode, size, maxBytes, limit);
    }

    /// <summary>The file's bytes; otherwise an <see cref="IOException"/> saying why ("it is a FIFO, not a regular file").</summary>
    public static byte[] Read(string path, long maxBytes, string limit)
    {
        // Opening a device can have effects of its own (a watchdog arms itself), so only a regular file is opened.
        if (Problem(path, maxBytes, limit) is { } problem) throw new IOException($"it {problem}");
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        // The path may have been swapped meanwhile: what counts is the file opened.
        if (!TryStat(file, out uint mode, out long size, out string? error)) throw new IOException($"it {error}");
        if (ProblemWith(mode, size, maxBytes, limit) is { } changed) throw new IOException($"it {changed}");
        var bytes = new byte[size];
        int done = 0;
        while (done < bytes.Length)
        {
            int n = RandomAccess.Read(file, bytes.AsSpan(done), done);
            if (n == 0) throw new IOException($"ended after {done} of its {size} bytes (was it truncated while being read?)");
            done += n;
        }
        return bytes;
    }

    private static string? ProblemWith(uint mode, long size, long maxBytes, string limit)
    {
        if ((mode & Libc.S_IFMT) != Libc.S_IFREG) return $"is {KindOf(mode)}, not a regular file";
        if (size > maxBytes) return $"has {size} bytes, more than {limit}";
        return null;
    }

    private static string KindOf(uint mode) => (mode & Libc.S_IFMT) switch
    {
        Libc.S_IFIFO => "a FIFO",
        Libc.S_IFCHR => "a character device",
        Libc.S_IFDIR => "a directory",
        Libc.S_IFBLK => "a block device",
        Libc.S_IFSOCK => "a socket",
        _ => "not a file",
    };

    private static unsafe bool TryStat(string path, out uint mode, out long size, out string? error)
    {
        byte* buffer = stackalloc byte[Libc.StatSize];
        return Finish(Libc.stat(path, buffer), buffer, out mode, out size, out error);
    }

    private static unsafe bool TryStat(SafeFileHandle file, out uint mode, out long size, out string? error)
    {
        byte* buffer = stackalloc byte[Libc.StatSize];
        return Finish(Libc.fstat((int)file.DangerousGetHandle(), buffer), buffer, out mode, out size, out error);
    }

    private static unsafe bool Finish(int result, byte* buffer, out uint mode, out long size, out string? error)
    {
        mode = 0;
        size = 0;
        error = null;
        if (result != 0)
        {
            int errno = Libc.LastError;
            error = errno == Libc.ENOENT ? "does not exist" : $"cannot be read: {Libc.Describe(errno)}";
            return false;
        }
        mode = *(uint*)(buffer + Libc.StatModeOffset);
        size = *(long*)(buffer + Libc.StatSizeOffset);
        return true;
    }
}
