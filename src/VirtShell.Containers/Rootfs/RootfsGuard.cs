using VirtShell.Containers.Bundle;
using VirtShell.Containers.Native;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Native;

namespace VirtShell.Containers.Rootfs;

/// <summary>
/// Refuses a rootfs with entries that runc 1.1.5 (Debian 12's) would follow while it sets the container up: a symlink
/// or plain file at /dev/null, /dev/console or /dev/pts/ptmx, or at a path runc masks. Those runc releases bind-mount
/// such entries without checking what they are (CVE-2025-31133, CVE-2025-52565), so an image could point the mount at
/// a host-wide procfs file and make it writable. The engine mounts its own /dev over the image's anyway
/// (<see cref="DeviceDirectory"/>); this check keeps such an image from ever reaching runc.
/// </summary>
public static class RootfsGuard
{
    public static readonly IReadOnlyList<string> DevicePaths = ["/dev/null", "/dev/console", "/dev/pts/ptmx"];

    /// <summary>
    /// Checks the rootfs at <paramref name="root"/> (as the container will see it); throws naming the first offending
    /// path, with <paramref name="source"/> saying where the rootfs came from.
    /// </summary>
    public static void Check(string root, string source)
    {
        foreach (var path in DevicePaths.Concat(OciBundle.MaskedPaths))
        {
            if (Problem(root, path) is { } problem)
                throw new DefinitionException(
                    $"container.rootfs: {source} (with the machine's own changes) has {problem}; runc 1.1 would follow it when it sets up the container's " +
                    "/dev and masked paths (CVE-2025-31133, CVE-2025-52565). Remove it from the image: the engine makes the " +
                    "container's /dev itself.");
        }
    }

    /// <summary>What is wrong at <paramref name="path"/> or on the way to it, or null: absent, a device, or (masked paths only) a directory is fine.</summary>
    private static string? Problem(string root, string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 1; i <= parts.Length; i++)
        {
            string inside = "/" + string.Join('/', parts[..i]);
            string host = root.TrimEnd('/') + inside;
            if (LinuxCalls.LinkMode(host) is not { } mode) return null;
            uint type = mode & Libc.S_IFMT;
            if (type == Libc.S_IFLNK) return $"{inside} as a symlink (to '{new FileInfo(host).LinkTarget}')";
            if (i < parts.Length)
            {
                if (type != Libc.S_IFDIR) return null; // nothing can be below it
                continue;
            }
            if (type is Libc.S_IFCHR or Libc.S_IFBLK) return null;
            if (type == Libc.S_IFDIR && !DevicePaths.Contains(path)) return null;
            return $"{inside} as {Describe(type)}, not a device";
        }
        return null;
    }

    private static string Describe(uint type) => type switch
    {
        Libc.S_IFREG => "a regular file",
        Libc.S_IFDIR => "a directory",
        _ => "a fifo or socket",
    };
}
