using VirtShell.Containers.Native;

namespace VirtShell.Containers.Rootfs;

/// <summary>
/// The container's /dev, made by the engine rather than by runc: a fresh tmpfs per run in the machine folder, with
/// the device nodes, links and mount points runc would make, bound over the rootfs's /dev. runc (1.1.5 in Debian 12)
/// then creates no device of its own, and the /dev/null it bind-mounts over the masked paths is this one, made
/// before any process of the container exists (CVE-2025-31133 swaps that node for a symlink).
/// </summary>
public static class DeviceDirectory
{
    /// <summary>runc's default devices (all 0666), which the device cgroup lets through: name, major, minor.</summary>
    private static readonly (string Name, uint Major, uint Minor)[] Devices =
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

    private static readonly (string Name, string Target)[] Links =
    [
        ("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore"),
    ];

    /// <summary>Mount points inside it for the devpts, shm and mqueue mounts of config.json.</summary>
    private static readonly string[] Folders = ["pts", "shm", "mqueue"];

    public static string PathIn(string machineDirectory) => Path.Combine(machineDirectory, "dev");

    /// <summary>Mounts a fresh tmpfs at the machine's dev folder (replacing one a dead engine left) and fills it.</summary>
    public static string Mount(string machineDirectory)
    {
        string dev = PathIn(machineDirectory);
        Unmount(machineDirectory);
        Directory.CreateDirectory(dev);
        LinuxCalls.MountTmpfs(dev, "mode=755,size=65536k");
        const uint Everyone = 0x1B6; // 0666
        foreach (var (name, major, minor) in Devices) LinuxCalls.MakeCharacterDevice(Path.Combine(dev, name), major, minor, Everyone);
        foreach (var (name, target) in Links) File.CreateSymbolicLink(Path.Combine(dev, name), target);
        foreach (var folder in Folders) Directory.CreateDirectory(Path.Combine(dev, folder));
        return dev;
    }

    public static void Unmount(string machineDirectory) => MountTable.UnmountAll(PathIn(machineDirectory));
}
