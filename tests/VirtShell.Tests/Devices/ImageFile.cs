using Microsoft.Win32.SafeHandles;
using VirtShell.Engine.Native;

namespace VirtShell.Tests.Devices;

/// <summary>
/// A disk image's bytes as another process would read them now, while a device holds its flock. Through a plain
/// descriptor: a .NET FileStream would ask for a shared flock, which the device's exclusive lock refuses.
/// </summary>
internal static class ImageFile
{
    public static byte[] Read(string path, int length)
    {
        int fd = Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        Assert.True(fd >= 0, $"cannot open {path}");
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var bytes = new byte[length];
        Assert.Equal(length, RandomAccess.Read(handle, bytes, 0));
        return bytes;
    }
}
