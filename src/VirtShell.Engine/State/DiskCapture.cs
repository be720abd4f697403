using Microsoft.Win32.SafeHandles;
using VirtShell.Engine.Native;

namespace VirtShell.Engine.State;

/// <summary>How a disk image was captured.</summary>
public enum DiskCaptureMethod
{
    /// <summary>A reflink (FICLONE): the copy shares the image's blocks until either is written; instant, no space.</summary>
    Reflink,
    /// <summary>A byte copy, where the file system cannot share blocks (ext4, tmpfs, across file systems).</summary>
    Copy,
}

/// <summary>One disk image captured for a checkpoint: which image, where its copy is, and how it was made.</summary>
public sealed record CapturedDisk(string Image, string Copy, DiskCaptureMethod Method);

/// <summary>Captures a disk image beside a saved state.</summary>
public static class DiskCapture
{
    /// <summary>FICLONE: _IOW(0x94, 9, int), the ioctl btrfs and XFS (reflink=1) share a whole file's extents with.</summary>
    private const nuint Ficlone = 0x4004_9409;

    /// <summary>
    /// Makes <paramref name="destination"/> a copy of <paramref name="source"/> as it is now: by reflink where the
    /// file system allows, else by copying. The image must not be written meanwhile (the machine is paused).
    /// </summary>
    public static DiskCaptureMethod Capture(string source, string destination)
    {
        // Plain descriptors: .NET's own FileStream locking would collide with the flock the running disk holds.
        int from = Libc.open(source, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (from < 0) throw Libc.Error($"open of disk image '{source}'");
        try
        {
            int to = Libc.open(destination, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x1A4); // 0644
            if (to < 0) throw Libc.Error($"open of '{destination}'");
            try
            {
                if (Libc.ioctl(to, Ficlone, from) == 0) return DiskCaptureMethod.Reflink;
                using var input = new FileStream(new SafeFileHandle(from, ownsHandle: false), FileAccess.Read);
                using var output = new FileStream(new SafeFileHandle(to, ownsHandle: false), FileAccess.Write);
                input.CopyTo(output, 1 << 20);
                output.Flush(flushToDisk: true);
                return DiskCaptureMethod.Copy;
            }
            finally
            {
                Libc.close(to);
            }
        }
        finally
        {
            Libc.close(from);
        }
    }
}
