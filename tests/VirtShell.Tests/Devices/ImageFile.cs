using System.Runtime.InteropServices;

namespace VirtShell.Tests.Devices;

/// <summary>
/// A disk image's bytes as another process would read them now, while a device holds its flock. Through a plain
/// descriptor: a .NET FileStream would ask for a shared flock, which the device's exclusive lock refuses.
/// </summary>
internal static partial class ImageFile
{
    public static byte[] Read(string path, int length)
    {
        int fd = open(path, 0);
        Assert.True(fd >= 0, $"cannot open {path}");
        try
        {
            var bytes = new byte[length];
            Assert.Equal(length, (int)pread(fd, bytes, length, 0));
            return bytes;
        }
        finally
        {
            close(fd);
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)] private static partial int open(string path, int flags);
    [LibraryImport("libc")] private static partial nint pread(int fd, byte[] buffer, nint count, long offset);
    [LibraryImport("libc")] private static partial int close(int fd);
}
