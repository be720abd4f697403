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

/// <summary>Captures a disk image beside a saved state, and puts it back.</summary>
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
        using (var from = File.OpenHandle(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var to = File.OpenHandle(destination, FileMode.Create, FileAccess.Write))
        {
            if (Libc.ioctl((int)to.DangerousGetHandle(), Ficlone, from.DangerousGetHandle()) == 0) return DiskCaptureMethod.Reflink;
        }
        File.Copy(source, destination, overwrite: true);
        return DiskCaptureMethod.Copy;
    }
}
