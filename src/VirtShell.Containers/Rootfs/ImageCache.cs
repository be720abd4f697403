using System.Security.Cryptography;
using System.Text;
using VirtShell.Containers.Definition;
using VirtShell.Containers.Native;

namespace VirtShell.Containers.Rootfs;

/// <summary>
/// Read-only root filesystem images under $VIRTSHELL_HOME/images: the busybox image the project builds, and tar
/// archives unpacked once. An image folder appears whole (built aside, then renamed) and is never written again;
/// containers see it only as the lower layer of their overlay.
/// </summary>
public sealed class ImageCache(string home)
{
    /// <summary>Debian's busybox-static: one static binary, so the image needs no libraries.</summary>
    public const string BusyboxBinary = "/bin/busybox";

    public string Directory { get; } = Path.Combine(home, "images");

    /// <summary>The folder to use as the overlay's lower layer for <paramref name="source"/>, built if needed.</summary>
    public string Resolve(RootfsSource source) => source switch
    {
        RootfsSource.Busybox => Busybox(),
        RootfsSource.Directory d => d.Path,
        RootfsSource.Archive a => Unpacked(a.Path),
        _ => throw new ArgumentOutOfRangeException(nameof(source)),
    };

    public string Busybox()
    {
        if (!File.Exists(BusyboxBinary))
            throw new FileNotFoundException($"{BusyboxBinary} is missing: install Debian's busybox-static (./build.ps1 -Task Bootstrap)");
        var info = new FileInfo(BusyboxBinary);
        // Keyed by the binary's identity, so a busybox upgrade builds a fresh image beside the old one.
        return Ensure($"busybox-{Key($"{info.Length}:{info.LastWriteTimeUtc.Ticks}")}", BuildBusybox);
    }

    private string Unpacked(string archive)
    {
        var info = new FileInfo(archive);
        return Ensure($"tar-{Key($"{archive}:{info.Length}:{info.LastWriteTimeUtc.Ticks}")}", staging =>
            ChildProcess.Run("tar", ["--numeric-owner", "-xpf", archive, "-C", staging], $"unpacking {archive}"));
    }

    private string Ensure(string name, Action<string> build)
    {
        string target = Path.Combine(Directory, name);
        if (System.IO.Directory.Exists(target)) return target;
        System.IO.Directory.CreateDirectory(Directory);
        string staging = Path.Combine(Directory, $".build-{name}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(staging);
        try
        {
            build(staging);
            try { System.IO.Directory.Move(staging, target); }
            catch (IOException) when (System.IO.Directory.Exists(target)) { /* another process built it first */ }
        }
        finally
        {
            if (System.IO.Directory.Exists(staging)) System.IO.Directory.Delete(staging, recursive: true);
        }
        return target;
    }

    private static void BuildBusybox(string root)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the busybox image is built on Linux only");
        foreach (var dir in new[] { "bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "proc", "sys", "dev", "tmp", "var/tmp", "home" })
            System.IO.Directory.CreateDirectory(Path.Combine(root, dir));
        File.SetUnixFileMode(Path.Combine(root, "tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));
        File.SetUnixFileMode(Path.Combine(root, "var/tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));
        File.SetUnixFileMode(Path.Combine(root, "root"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        string busybox = Path.Combine(root, "bin/busybox");
        File.Copy(BusyboxBinary, busybox);
        File.SetUnixFileMode(busybox, (UnixFileMode)Convert.ToInt32("755", 8));
        foreach (var applet in ChildProcess.Run(BusyboxBinary, ["--list-full"], "listing the busybox applets").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string link = Path.Combine(root, applet);
            if (applet == "bin/busybox" || File.Exists(link)) continue;
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(link)!);
            File.CreateSymbolicLink(link, "/bin/busybox");
        }

        File.WriteAllText(Path.Combine(root, "etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        File.WriteAllText(Path.Combine(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
        File.WriteAllText(Path.Combine(root, "etc/hosts"), "127.0.0.1\tlocalhost\n::1\tlocalhost\n");
        File.WriteAllText(Path.Combine(root, "etc/os-release"), "NAME=\"VirtShell busybox\"\nID=virtshell-busybox\n");
    }

    private static string Key(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
}
