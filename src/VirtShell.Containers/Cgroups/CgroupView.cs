namespace VirtShell.Containers.Cgroups;

/// <summary>
/// Reads a container's cgroup files on either layout: cgroup v2 (one tree) or v1/hybrid (a tree per controller,
/// as on this project's development hosts). runc creates and deletes the directories; we only read them.
/// </summary>
public sealed class CgroupView(string cgroupsPath)
{
    private const string Root = "/sys/fs/cgroup";
    private static readonly bool IsUnified = File.Exists(Path.Combine(Root, "cgroup.controllers"));

    public string RelativePath { get; } = cgroupsPath.TrimStart('/');

    /// <summary>Every directory this cgroup has on this host right now (one per v1 hierarchy; one on v2).</summary>
    public IReadOnlyList<string> ExistingDirectories()
    {
        var candidates = IsUnified
            ? [Path.Combine(Root, RelativePath)]
            : Directory.EnumerateDirectories(Root).Select(h => Path.Combine(h, RelativePath));
        return candidates.Where(Directory.Exists).ToList();
    }

    /// <summary>How many times the OOM killer struck inside this cgroup.</summary>
    public long OomKills() => IsUnified
        ? KeyedValue(Controller("memory", "memory.events"), "oom_kill")
        : KeyedValue(Controller("memory", "memory.oom_control"), "oom_kill");

    public long MemoryUsage() => Number(Controller("memory", IsUnified ? "memory.current" : "memory.usage_in_bytes"));

    public long Pids() => Number(Controller("pids", "pids.current"));

    /// <summary>CPU time the cgroup's processes used, user and system.</summary>
    public long CpuUsageNanoseconds()
    {
        if (!IsUnified) return Number(Controller("cpuacct", "cpuacct.usage"));
        long microseconds = KeyedValue(Controller("cpu", "cpu.stat"), "usage_usec");
        return microseconds < 0 ? -1 : microseconds * 1000;
    }

    private string Controller(string controller, string file) =>
        IsUnified ? Path.Combine(Root, RelativePath, file) : Path.Combine(Root, controller, RelativePath, file);

    private static long Number(string file)
    {
        try { return long.TryParse(File.ReadAllText(file).Trim(), out long n) ? n : -1; }
        catch (IOException) { return -1; }
        catch (UnauthorizedAccessException) { return -1; }
    }

    private static long KeyedValue(string file, string key)
    {
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                var parts = line.Split(' ', 2);
                if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], out long n)) return n;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return -1;
    }
}
