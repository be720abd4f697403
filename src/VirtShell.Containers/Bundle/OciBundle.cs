using System.Text.Json;
using System.Text.Json.Nodes;
using VirtShell.Containers.Definition;

namespace VirtShell.Containers.Bundle;

/// <summary>
/// Writes the OCI bundle's config.json: the container as runc must make it. Namespaces, mounts, masked and
/// read-only paths follow runc's own defaults (<c>runc spec</c>), except /dev, which the engine makes; capabilities
/// and seccomp are docker's defaults.
/// </summary>
public static class OciBundle
{
    public const string ConfigFile = "config.json";

    /// <summary>runc's default masked paths: kernel state a container must not read.</summary>
    public static readonly IReadOnlyList<string> MaskedPaths =
    [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ];

    /// <summary>runc's default read-only paths: kernel knobs a container must not turn.</summary>
    public static readonly IReadOnlyList<string> ReadonlyPaths =
        ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <param name="devDirectory">The /dev the engine made for the container (<see cref="Rootfs.DeviceDirectory"/>).</param>
    /// <param name="networkNamespace">The named namespace a veth network was wired into (null for other networks).</param>
    public static string Write(string bundleDirectory, ContainerSettings settings, string rootfs, string devDirectory, string cgroupsPath, string? networkNamespace = null)
    {
        Directory.CreateDirectory(bundleDirectory);
        string path = Path.Combine(bundleDirectory, ConfigFile);
        string json = Render(settings, rootfs, devDirectory, cgroupsPath, networkNamespace);
        // A restart usually finds the file as it would write it: left alone, the start path has one metadata update
        // less. Not through AtomicFile: the bundle is checked or written before every start and read by runc at once,
        // so a torn file cannot outlive a crash, and an fsync here would sit on every start's critical path.
        if (File.Exists(path) && File.ReadAllText(path) == json) return path;
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>config.json's text as <see cref="Write"/> writes it (a checkpoint compares it with the one it ran with).</summary>
    public static string Render(ContainerSettings settings, string rootfs, string devDirectory, string cgroupsPath, string? networkNamespace = null) =>
        Build(settings, rootfs, devDirectory, cgroupsPath, networkNamespace).ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public static JsonObject Build(ContainerSettings settings, string rootfs, string devDirectory, string cgroupsPath, string? networkNamespace = null)
    {
        var caps = Strings(settings.Capabilities);
        var process = new JsonObject
        {
            ["terminal"] = false,
            ["user"] = new JsonObject { ["uid"] = settings.Process.Uid, ["gid"] = settings.Process.Gid },
            ["args"] = Strings(settings.Process.Args),
            ["env"] = Strings(settings.Process.Env),
            ["cwd"] = settings.Process.Cwd,
            ["capabilities"] = new JsonObject
            {
                ["bounding"] = caps.DeepClone(),
                ["effective"] = caps.DeepClone(),
                ["permitted"] = caps.DeepClone(),
            },
            ["rlimits"] = new JsonArray { new JsonObject { ["type"] = "RLIMIT_NOFILE", ["hard"] = 1024, ["soft"] = 1024 } },
            ["noNewPrivileges"] = true,
        };

        var namespaces = new JsonArray();
        foreach (var ns in new[] { "pid", "ipc", "uts", "mount", "cgroup" })
            namespaces.Add(new JsonObject { ["type"] = ns });
        switch (settings.Network)
        {
            case NetworkSettings.Isolated:
                namespaces.Add(new JsonObject { ["type"] = "network" });
                break;
            case NetworkSettings.Veth:
                // Made and wired by the engine before runc runs; runc joins it instead of making one.
                namespaces.Add(new JsonObject
                {
                    ["type"] = "network",
                    ["path"] = networkNamespace ?? throw new ArgumentNullException(nameof(networkNamespace), "a veth network needs its namespace"),
                });
                break;
        }

        return new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = process,
            ["root"] = new JsonObject { ["path"] = rootfs, ["readonly"] = false },
            ["hostname"] = settings.Hostname,
            ["mounts"] = Mounts(settings, devDirectory),
            ["linux"] = new JsonObject
            {
                ["cgroupsPath"] = cgroupsPath,
                ["resources"] = Resources(settings),
                ["namespaces"] = namespaces,
                ["maskedPaths"] = Strings(MaskedPaths),
                ["readonlyPaths"] = Strings(ReadonlyPaths),
                ["seccomp"] = SeccompProfile.Build(settings.Capabilities),
            },
        };
    }

    private static JsonArray Mounts(ContainerSettings settings, string devDirectory)
    {
        var mounts = new JsonArray
        {
            Mount("/proc", "proc", "proc"),
            // A bind mount at /dev is runc's sign that /dev is made already: it then creates no device node itself.
            Mount("/dev", "bind", devDirectory, "bind", "nosuid"),
            Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
            Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
            Mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
            Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
            Mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
        };
        foreach (var m in settings.Mounts)
        {
            string access = m.ReadOnly ? "ro" : "rw";
            mounts.Add(m.Kind switch
            {
                MountKind.Bind => Mount(m.Target, "bind", m.Source!, "rbind", access, "nosuid", "nodev"),
                _ => Mount(m.Target, "tmpfs", "tmpfs",
                    [access, "nosuid", "nodev", "mode=1777", .. m.SizeBytes is { } size ? [$"size={size}"] : Array.Empty<string>()]),
            });
        }
        return mounts;
    }

    private static JsonObject Resources(ContainerSettings settings)
    {
        var resources = new JsonObject
        {
            // Deny every device node; runc adds the harmless defaults (null, zero, full, random, urandom, tty, ptmx).
            ["devices"] = new JsonArray { new JsonObject { ["allow"] = false, ["access"] = "rwm" } },
            // swap = limit: no swap on top of the memory limit, so a hog meets the OOM killer instead of the disk.
            ["memory"] = new JsonObject { ["limit"] = settings.MemoryLimitBytes, ["swap"] = settings.MemoryLimitBytes },
        };
        var r = settings.Resources;
        if (r.Pids is { } pids) resources["pids"] = new JsonObject { ["limit"] = pids };
        if (r.CpuShares != null || r.CpuQuota != null)
        {
            var cpu = new JsonObject();
            if (r.CpuShares is { } shares) cpu["shares"] = shares;
            if (r.CpuQuota is { } quota)
            {
                cpu["quota"] = quota;
                cpu["period"] = r.CpuPeriod ?? 100_000;
            }
            resources["cpu"] = cpu;
        }
        return resources;
    }

    private static JsonObject Mount(string destination, string type, string source, params string[] options)
    {
        var mount = new JsonObject { ["destination"] = destination, ["type"] = type, ["source"] = source };
        if (options.Length > 0) mount["options"] = Strings(options);
        return mount;
    }

    internal static JsonArray Strings(IEnumerable<string> items) => new(items.Select(i => (JsonNode)JsonValue.Create(i)).ToArray());
}
