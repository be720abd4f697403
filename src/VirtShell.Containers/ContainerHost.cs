using System.Security.Cryptography;
using System.Text;
using VirtShell.Containers.Cgroups;
using VirtShell.Containers.Native;
using VirtShell.Containers.Network;
using VirtShell.Containers.Rootfs;
using VirtShell.Containers.Runc;

namespace VirtShell.Containers;

/// <summary>Where one machine's container lives: its folders, its runc id, its cgroup and its network names.</summary>
public sealed record ContainerPlacement(string MachineDirectory, string ContainerId, string CgroupsPath, VethNames Network)
{
    public string BundleDirectory => Path.Combine(MachineDirectory, "bundle");
    public string Rootfs => OverlayRootfs.MergedPath(MachineDirectory);
    public string DevDirectory => DeviceDirectory.PathIn(MachineDirectory);
    public string PidFile => Path.Combine(BundleDirectory, "init.pid");
    public string RuncLog => Path.Combine(BundleDirectory, "runc.log");
}

/// <summary>
/// The container side of one $VIRTSHELL_HOME: runc with its state root there, the image cache, and the naming of
/// containers and cgroups. Two homes on one host never share a runc id or a cgroup.
/// </summary>
public sealed class ContainerHost
{
    public ContainerHost(string home, string runcExecutable)
    {
        Home = Path.GetFullPath(home);
        Runc = new RuncClient(runcExecutable, Path.Combine(Home, "runc"));
        Images = new ImageCache(Home);
        _scope = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Home)))[..8];
    }

    private readonly string _scope;

    public string Home { get; }
    public RuncClient Runc { get; }
    public ImageCache Images { get; }

    public ContainerPlacement Place(string machineName) =>
        new(Path.Combine(Home, "machines", machineName), machineName, $"/virtshell/{_scope}-{machineName}",
            new VethNames($"virtshell-{_scope}-{machineName}",
                // Interface names have 15 characters at most: a hash of home and machine keeps them apart.
                "vs" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Home}\n{machineName}")))[..12]));

    /// <summary>
    /// Removes whatever a run of <paramref name="machineName"/> left behind: its processes, runc state, cgroups
    /// (runc delete --force does those three), the overlay and /dev mounts and its veth network. Safe when nothing is left; used after every
    /// run and before a start, so a run an engine abandoned when it died is cleaned up the next time.
    /// </summary>
    public void ReleaseLeftovers(string machineName)
    {
        var placement = Place(machineName);
        if (Directory.Exists(Path.Combine(Runc.StateRoot, placement.ContainerId)))
        {
            // An init orphaned by a dead engine may have been adopted by this process (a child subreaper too):
            // once runc has killed it, reap it here, or it stays behind as a zombie.
            int? orphan = Runc.State(placement.ContainerId)?.Pid;
            try { Runc.Delete(placement.ContainerId, force: true); }
            catch (RuncException) when (!Directory.Exists(Path.Combine(Runc.StateRoot, placement.ContainerId))) { }
            if (orphan is > 0 and int pid) LinuxCalls.ReapChild(pid, TimeSpan.FromSeconds(5));
        }
        OverlayRootfs.Unmount(placement.MachineDirectory);
        DeviceDirectory.Unmount(placement.MachineDirectory);
        VethNetwork.Release(placement.Network);
    }

    /// <summary>What of <paramref name="machineName"/> still exists on the host: for tests and for Remove to check.</summary>
    public IReadOnlyList<string> FindLeftovers(string machineName)
    {
        var placement = Place(machineName);
        var found = new List<string>();
        if (Directory.Exists(Path.Combine(Runc.StateRoot, placement.ContainerId)))
            found.Add($"runc state {Path.Combine(Runc.StateRoot, placement.ContainerId)}");
        if (MountTable.IsMounted(placement.Rootfs)) found.Add($"mount {placement.Rootfs}");
        if (MountTable.IsMounted(placement.DevDirectory)) found.Add($"mount {placement.DevDirectory}");
        found.AddRange(new CgroupView(placement.CgroupsPath).ExistingDirectories().Select(d => $"cgroup {d}"));
        found.AddRange(ProcessesIn(placement.CgroupsPath).Select(pid => $"process {pid}"));
        found.AddRange(VethNetwork.FindLeftovers(placement.Network));
        return found;
    }

    /// <summary>Host processes whose cgroup (in any hierarchy) is <paramref name="cgroupsPath"/> or below it.</summary>
    private static IEnumerable<int> ProcessesIn(string cgroupsPath)
    {
        string marker = ":" + cgroupsPath;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            string text;
            try { text = File.ReadAllText(Path.Combine(dir, "cgroup")); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (text.Split('\n').Any(l => l.EndsWith(marker, StringComparison.Ordinal) || l.Contains(marker + "/")))
                yield return pid;
        }
    }

    private static readonly Lazy<bool> Subreaper = new(() => { LinuxCalls.BecomeChildSubreaper(); return true; });

    /// <summary>Makes this process the child subreaper (once); containers' init processes become its children.</summary>
    public static void EnsureSubreaper() => _ = Subreaper.Value;
}
