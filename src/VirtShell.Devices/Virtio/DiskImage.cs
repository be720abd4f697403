using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtShell.Devices.Virtio;

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

    public static DiskImage Open(string path, bool readOnly)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (FileNotFoundException e)
        {
            throw new DiskImageException($"disk image '{path}' does not exist", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new DiskImageException($"disk image '{path}' does not exist", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DiskImageException(readOnly
                ? $"disk image '{path}' cannot be read: {e.Message}"
                : $"disk image '{path}' cannot be opened for writing (it is read-only to this user; use readOnly: true to attach it read-only)", e);
        }
        catch (IOException e)
        {
            throw new DiskImageException($"disk image '{path}' cannot be opened: {e.Message}", e);
        }
        if (flock(handle, (readOnly ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new DiskImageException(errno == 11 // EWOULDBLOCK
                ? $"disk image '{path}' is in use by another machine"
                : $"disk image '{path}' cannot be locked (errno {errno})");
        }
        return new DiskImage(handle, path, readOnly);
    }

    public void Dispose() => Handle.Dispose(); // closing the last descriptor releases the flock

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(SafeFileHandle fd, int operation);
}
