using Microsoft.Win32.SafeHandles;
using VirtShell.Engine.Native;

namespace VirtShell.Devices.Storage;

/// <summary>A disk image that cannot be used: missing, not writable when writing was asked for, or in use.</summary>
public sealed class DiskImageException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A raw disk image file, opened for one machine. It holds an flock on the file for as long as it is open: exclusive
/// when writable, shared when read-only, so two machines can share a read-only image but never write one at the same
/// time (or write one another machine reads). The lock is advisory: it keeps VirtShell machines apart, not other tools.
/// </summary>
public sealed class DiskImage : IDisposable
{
    public const int SectorSize = 512;

    private DiskImage(SafeFileHandle handle, string path, bool readOnly)
    {
        Handle = handle;
        Path = path;
        ReadOnly = readOnly;
        SizeBytes = RandomAccess.GetLength(handle);
    }

    public SafeFileHandle Handle { get; }
    public string Path { get; }
    public bool ReadOnly { get; }
    public long SizeBytes { get; }
    /// <summary>Whole sectors: a partial sector at the end of the file is not part of the disk.</summary>
    public ulong Sectors => (ulong)SizeBytes / SectorSize;

    /// <summary>Opens and locks the image, or throws <see cref="DiskImageException"/> saying what is wrong with it.</summary>
    public static DiskImage Open(string path, bool readOnly)
    {
        // open(2) and flock(2) directly: .NET's FileStream takes locks of its own and reports every failure alike,
        // and here the user needs to know which it was.
        int fd = Libc.open(path, (readOnly ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Libc.LastError;
            throw new DiskImageException(errno switch
            {
                Libc.ENOENT or Libc.ENOTDIR => $"disk image '{path}' does not exist",
                Libc.EACCES or Libc.EROFS or Libc.EPERM when !readOnly =>
                    $"disk image '{path}' cannot be opened for writing (it is read-only here; use readOnly: true to attach it read-only)",
                Libc.EISDIR => $"disk image '{path}' is a directory, not an image file",
                _ => $"disk image '{path}' cannot be opened: {Libc.Describe(errno)}",
            });
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Libc.flock(fd, (readOnly ? Libc.LOCK_SH : Libc.LOCK_EX) | Libc.LOCK_NB) != 0)
        {
            int errno = Libc.LastError;
            handle.Dispose();
            throw new DiskImageException(errno == Libc.EWOULDBLOCK
                ? $"disk image '{path}' is in use by another machine"
                : $"disk image '{path}' cannot be locked: {Libc.Describe(errno)}");
        }
        try
        {
            return new DiskImage(handle, path, readOnly);
        }
        catch (IOException e)
        {
            handle.Dispose();
            throw new DiskImageException($"disk image '{path}' cannot be used: {e.Message}", e);
        }
    }

    public void Dispose() => Handle.Dispose(); // closing the last descriptor releases the flock
}
