using System.Net;
using System.Text.RegularExpressions;
using VirtShell.Engine.Definitions;

namespace VirtShell.Containers.Definition;

/// <summary>Turns the <c>container</c> section of a spec into <see cref="ContainerSettings"/>, or says which field is wrong.</summary>
public static partial class ContainerSettingsReader
{
    public const string SectionName = "container";

    /// <summary>Below this the container's own init cannot even start (docker uses the same floor).</summary>
    public const ulong MinimumMemory = 6UL << 20;

    private static readonly string[] SectionKeys = ["rootfs", "process", "hostname", "mounts", "resources", "network", "capabilities", "stopTimeout"];
    private static readonly string[] ProcessKeys = ["args", "env", "cwd", "uid", "gid", "terminal"];
    private static readonly string[] ResourceKeys = ["cpuShares", "cpuQuota", "cpuPeriod", "pids"];
    private static readonly string[] MountKeys = ["type", "source", "target", "readOnly", "size"];
    private static readonly string[] VethKeys = ["type", "bridge", "address", "gateway", "bridgeAddress"];

    public static ContainerSettings Read(MachineSpec spec)
    {
        if (spec.Devices.Count > 0)
            throw new DefinitionException(
                $"devices: a container has no emulated devices (found {string.Join(", ", spec.Devices.Select(d => d.Type))})", spec.Source);
        if (spec.Boot != null)
            throw new DefinitionException("boot: a container does not boot an image; give container.process.args instead", spec.Source);
        if (!spec.Sections.TryGetValue(SectionName, out var raw) || raw is null)
            throw new DefinitionException($"{SectionName}: a container definition needs a container section (at least container.rootfs)", spec.Source);

        string baseDirectory = Path.GetDirectoryName(spec.DefinitionPath) ?? Environment.CurrentDirectory;
        var section = SectionReader.From(SectionName, raw, spec.Source);
        var settings = new ContainerSettings
        {
            Rootfs = ReadRootfs(section, baseDirectory),
            Process = ReadProcess(section),
            Hostname = ReadHostname(section, spec.Name),
            Mounts = ReadMounts(section, baseDirectory),
            Resources = ReadResources(section),
            Network = ReadNetwork(section),
            Capabilities = ReadCapabilities(section),
            MemoryLimitBytes = CheckMemory(spec),
            StopTimeout = TimeSpan.FromSeconds(section.Integer("stopTimeout", 0, 3600) ?? 10),
        };
        section.RejectUnknown(SectionKeys);
        return settings;
    }

    private static RootfsSource ReadRootfs(SectionReader section, string baseDirectory)
    {
        object? raw = section.Raw("rootfs");
        switch (raw)
        {
            case null:
                throw section.Error("rootfs", "is required: a directory, a tar archive, or { busybox: true }");
            case string path:
                string full = Path.GetFullPath(path, baseDirectory);
                if (System.IO.Directory.Exists(full))
                {
                    if (!System.IO.Directory.EnumerateFileSystemEntries(full).Any())
                        throw section.Error("rootfs", $"'{full}' is an empty directory");
                    return new RootfsSource.Directory(full);
                }
                if (File.Exists(full))
                {
                    if (!ArchivePattern().IsMatch(full))
                        throw section.Error("rootfs", $"'{full}' is a file but not a tar archive (.tar, .tar.gz, .tgz, .tar.xz, .tar.bz2)");
                    return new RootfsSource.Archive(full);
                }
                throw section.Error("rootfs", $"'{full}' does not exist");
            default:
                var rootfs = SectionReader.From(section.Field("rootfs"), raw, null);
                if (rootfs.Boolean("busybox") != true)
                    throw rootfs.Error("busybox", "the only built-in rootfs is { busybox: true }");
                rootfs.RejectUnknown(["busybox"]);
                if (!File.Exists(Rootfs.ImageCache.BusyboxBinary))
                    throw rootfs.Error("busybox", $"needs Debian's busybox-static ({Rootfs.ImageCache.BusyboxBinary} is missing; ./build.ps1 -Task Bootstrap)");
                return new RootfsSource.Busybox();
        }
    }

    [GeneratedRegex(@"\.(tar|tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2)$", RegexOptions.IgnoreCase)]
    private static partial Regex ArchivePattern();

    private static ProcessSettings ReadProcess(SectionReader section)
    {
        var process = section.Object("process");
        if (process == null) return new ProcessSettings { Args = ["/bin/sh"] };
        var args = process.Strings("args") ?? ["/bin/sh"];
        if (args.Count == 0 || args[0].Length == 0) throw process.Error("args", "needs at least the program to run");
        var env = process.Strings("env");
        if (env?.Select((e, i) => (e, i)).FirstOrDefault(x => x.e.IndexOf('=') <= 0) is { e: not null } bad)
            throw process.Error($"env[{bad.i}]", $"'{bad.e}' is not NAME=value");
        string cwd = process.String("cwd") ?? "/";
        if (!cwd.StartsWith('/')) throw process.Error("cwd", $"'{cwd}' must be an absolute path inside the container");
        if (process.Boolean("terminal") == true)
            throw process.Error("terminal", "a terminal is not supported: the engine holds the container's stdio as pipes (its console)");
        var settings = new ProcessSettings
        {
            Args = args,
            Env = env ?? ProcessSettings.DefaultEnv,
            Cwd = cwd,
            Uid = (uint)(process.Integer("uid", 0, uint.MaxValue - 1) ?? 0),
            Gid = (uint)(process.Integer("gid", 0, uint.MaxValue - 1) ?? 0),
        };
        process.RejectUnknown(ProcessKeys);
        return settings;
    }

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
    private static partial Regex HostnamePattern();

    private static string ReadHostname(SectionReader section, string machineName)
    {
        string? hostname = section.String("hostname");
        if (hostname == null)
        {
            string derived = Regex.Replace(machineName, "[^A-Za-z0-9-]", "-").Trim('-');
            return derived.Length > 0 ? derived : "container";
        }
        if (hostname.Length > 64 || !HostnamePattern().IsMatch(hostname))
            throw section.Error("hostname", $"'{hostname}' is not a valid host name (letters, digits and '-', at most 64 characters)");
        return hostname;
    }

    private static List<MountSettings> ReadMounts(SectionReader section, string baseDirectory)
    {
        var list = section.List("mounts");
        if (list == null) return [];
        var mounts = new List<MountSettings>();
        var targets = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < list.Count; i++)
        {
            var m = SectionReader.From($"{section.Field("mounts")}[{i}]", list[i], null);
            string type = m.String("type") ?? throw m.Error("type", "is required: 'bind' or 'tmpfs'");
            string target = m.String("target") ?? throw m.Error("target", "is required (an absolute path inside the container)");
            if (!target.StartsWith('/') || target.Split('/').Contains(".."))
                throw m.Error("target", $"'{target}' must be an absolute path inside the container, without '..'");
            target = "/" + string.Join('/', target.Split('/', StringSplitOptions.RemoveEmptyEntries));
            if (target == "/" || IsReservedTarget(target))
                throw m.Error("target", $"'{target}' is managed by the container runtime and cannot be mounted over");
            if (!targets.Add(target))
                throw m.Error("target", $"'{target}' is mounted twice");
            bool readOnly = m.Boolean("readOnly") ?? false;
            MountSettings mount;
            switch (type)
            {
                case "bind":
                    string source = m.String("source") ?? throw m.Error("source", "is required for a bind mount");
                    string full = Path.GetFullPath(source, baseDirectory);
                    if (!System.IO.Directory.Exists(full) && !File.Exists(full))
                        throw m.Error("source", $"'{full}' does not exist");
                    if (m.Has("size")) throw m.Error("size", "only a tmpfs has a size");
                    mount = new MountSettings { Kind = MountKind.Bind, Source = full, Target = target, ReadOnly = readOnly };
                    break;
                case "tmpfs":
                    if (m.Has("source")) throw m.Error("source", "a tmpfs has no source");
                    mount = new MountSettings { Kind = MountKind.Tmpfs, Target = target, ReadOnly = readOnly, SizeBytes = m.Size("size") };
                    break;
                default:
                    throw m.Error("type", $"'{type}' is not a mount type here ('bind' or 'tmpfs')");
            }
            m.RejectUnknown(MountKeys);
            mounts.Add(mount);
        }
        return mounts;
    }

    private static bool IsReservedTarget(string target) =>
        target is "/proc" or "/sys" or "/dev" || target.StartsWith("/proc/", StringComparison.Ordinal)
        || target.StartsWith("/sys/", StringComparison.Ordinal) || target.StartsWith("/dev/", StringComparison.Ordinal);

    private static ResourceSettings ReadResources(SectionReader section)
    {
        var resources = section.Object("resources");
        if (resources == null) return new ResourceSettings();
        var settings = new ResourceSettings
        {
            CpuShares = (ulong?)resources.Integer("cpuShares", 2, 262144),
            CpuQuota = resources.Integer("cpuQuota", 1000, 1_000_000_000),
            CpuPeriod = (ulong?)resources.Integer("cpuPeriod", 1000, 1_000_000),
            Pids = resources.Integer("pids", 1, 4_194_304),
        };
        if (settings.CpuPeriod != null && settings.CpuQuota == null)
            throw resources.Error("cpuPeriod", "has no effect without cpuQuota");
        resources.RejectUnknown(ResourceKeys);
        return settings;
    }

    private static NetworkSettings ReadNetwork(SectionReader section)
    {
        switch (section.Raw("network"))
        {
            case null or "none": return new NetworkSettings.Isolated();
            case "host": return new NetworkSettings.Host();
            case string other:
                throw section.Error("network",
                    $"'{other}' is not supported ('none': own namespace with loopback only; 'host'; or {{ type: 'veth', bridge, address }})");
        }
        var network = section.Object("network")!;
        string type = network.String("type") ?? throw network.Error("type", "is required: 'veth'");
        if (type != "veth") throw network.Error("type", $"'{type}' is not a network type here (an object network is {{ type: 'veth', ... }})");

        string bridge = network.String("bridge") ?? throw network.Error("bridge", "is required: the host bridge the machine's veth joins (made if absent)");
        if (InterfaceNameProblem(bridge) is { } problem) throw network.Error("bridge", problem);
        var address = Cidr(network, "address") ?? throw network.Error("address", "is required: the machine's address with its prefix, like '10.77.0.2/24'");

        IPAddress? gateway = null;
        if (network.String("gateway") is { } gatewayText)
        {
            if (!Ipv4Cidr.IsDottedQuad(gatewayText) || !IPAddress.TryParse(gatewayText, out gateway))
                throw network.Error("gateway", $"'{gatewayText}' is not an IPv4 address (like 10.77.0.1)");
            if (!address.Contains(gateway) || gateway.Equals(address.Address))
                throw network.Error("gateway", $"{gateway} must be another address in the machine's subnet {address.Network}");
        }

        var bridgeAddress = Cidr(network, "bridgeAddress");
        if (bridgeAddress == null)
        {
            bridgeAddress = address.FirstHost;
            if (bridgeAddress.Address.Equals(address.Address))
                throw network.Error("address",
                    $"{address.Address} is the bridge's default host address (the subnet's first); choose another or give network.bridgeAddress");
        }
        else if (bridgeAddress.Network != address.Network)
            throw network.Error("bridgeAddress", $"{bridgeAddress} is not in the machine's subnet {address.Network}");
        else if (bridgeAddress.Address.Equals(address.Address))
            throw network.Error("bridgeAddress", $"{bridgeAddress.Address} is the machine's own address");

        network.RejectUnknown(VethKeys);
        return new NetworkSettings.Veth(bridge, address, gateway, bridgeAddress);
    }

    private static Ipv4Cidr? Cidr(SectionReader section, string key)
    {
        if (section.String(key) is not { } text) return null;
        return Ipv4Cidr.TryParse(text, out string error) ?? throw section.Error(key, error);
    }

    /// <summary>Why <paramref name="name"/> cannot name a Linux network interface, or null when it can.</summary>
    public static string? InterfaceNameProblem(string name)
    {
        // IFNAMSIZ is 16 with the terminating NUL; the kernel refuses longer names (and '/', ':', whitespace).
        if (name.Length > 15) return $"'{name}' is {name.Length} characters; a Linux interface name has at most 15 (IFNAMSIZ)";
        if (!InterfaceNamePattern().IsMatch(name) || name is "." or "..")
            return $"'{name}' is not an interface name (letters, digits, '_', '-' and '.')";
        return null;
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]+$")]
    private static partial Regex InterfaceNamePattern();

    private static IReadOnlyList<string> ReadCapabilities(SectionReader section)
    {
        var caps = section.Strings("capabilities");
        if (caps == null) return ContainerSettings.DefaultCapabilities;
        for (int i = 0; i < caps.Count; i++)
            if (!KnownCapabilities.Contains(caps[i]))
                throw section.Error($"capabilities[{i}]", $"'{caps[i]}' is not a Linux capability (names look like CAP_CHOWN)");
        return caps.Distinct().ToList();
    }

    private static ulong CheckMemory(MachineSpec spec)
    {
        ulong limit = spec.MemoryBytes;
        if (limit < MinimumMemory)
            throw new DefinitionException($"memory: {limit} bytes is below the {MinimumMemory >> 20} MiB a container needs to start", spec.Source);
        ulong host = HostMemoryBytes();
        if (host > 0 && limit > host)
            throw new DefinitionException($"memory: {limit >> 20} MiB is more than this host has ({host >> 20} MiB)", spec.Source);
        return limit;
    }

    private static ulong HostMemoryBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var parts = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return parts is { Length: >= 2 } && ulong.TryParse(parts[1], out ulong kb) ? kb * 1024 : 0;
        }
        catch (IOException) { return 0; }
    }

    private static readonly HashSet<string> KnownCapabilities = new(StringComparer.Ordinal)
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    };
}
