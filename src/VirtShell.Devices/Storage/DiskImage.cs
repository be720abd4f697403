using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtShell.Devices.Storage;

/// <summary>A disk image that cannot be used: missing, not writable when writing was asked for, or in use.</summary>
public sealed class DiskImageException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A raw disk image file, opened for one machine. It holds an flock on the file for as long as it is open: exclusive
/// when writable, shared when read-only, so two machines can share a read-only image but never write one at the same
/// time (or write one another machine reads). The lock is advisory: it keeps VirtShell machines apart, not other tools.
/// </summary>
public sealed partial class DiskImage : IDisposable
{
    public const int SectorSize = 512;

    private const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
    private const int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000;
    private const int EPERM = 1, ENOENT = 2, EACCES = 13, ENOTDIR = 20, EISDIR = 21, EROFS = 30, EWOULDBLOCK = 11;

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
        int fd = open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new DiskImageException(errno switch
            {
                ENOENT or ENOTDIR => $"disk image '{path}' does not exist",
                EACCES or EROFS or EPERM when !readOnly =>
                    $"disk image '{path}' cannot be opened for writing (it is read-only here; use readOnly: true to attach it read-only)",
                EISDIR => $"disk image '{path}' is a directory, not an image file",
                _ => $"disk image '{path}' cannot be opened: {Marshal.GetPInvokeErrorMessage(errno)}",
            });
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (flock(handle, (readOnly ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new DiskImageException(errno == EWOULDBLOCK
                ? $"disk image '{path}' is in use by another machine"
                : $"disk image '{path}' cannot be locked: {Marshal.GetPInvokeErrorMessage(errno)}");
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

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(SafeFileHandle fd, int operation);
}
