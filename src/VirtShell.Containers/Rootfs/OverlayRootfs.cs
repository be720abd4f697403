using VirtShell.Containers.Native;

namespace VirtShell.Containers.Rootfs;

/// <summary>
/// A machine's root filesystem: an overlay whose lower layer is the shared image and whose upper and work folders
/// live in the machine folder, so what the container writes stays with the machine and the image stays untouched.
/// </summary>
public sealed class OverlayRootfs(string lower, string machineDirectory)
{
    public string Lower { get; } = lower;
    public string Upper { get; } = Path.Combine(machineDirectory, "overlay", "upper");
    public string Work { get; } = Path.Combine(machineDirectory, "overlay", "work");
    /// <summary>The merged view runc uses as the container's root.</summary>
    public string Merged { get; } = MergedPath(machineDirectory);

    public static string MergedPath(string machineDirectory) => Path.Combine(machineDirectory, "rootfs");

    public void Mount()
    {
        foreach (var dir in new[] { Upper, Work, Merged }) Directory.CreateDirectory(dir);
        foreach (var (name, path) in new[] { ("image", Lower), ("upper", Upper), ("work", Work) })
            if (path.IndexOfAny([',', ':', '\\']) >= 0)
                throw new IOException($"the overlay {name} folder '{path}' contains ',', ':' or '\\', which overlayfs options cannot carry");
        if (MountTable.IsMounted(Merged)) LinuxCalls.Unmount(Merged); // left by an engine that died mid-run
        LinuxCalls.MountOverlay(Merged, $"lowerdir={Lower},upperdir={Upper},workdir={Work}");
    }

    public static void Unmount(string machineDirectory)
    {
        MountTable.UnmountAll(MergedPath(machineDirectory));
    }
}
