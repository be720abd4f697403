using System.Net;

namespace VirtShell.Containers.Definition;

/// <summary>The <c>container: {...}</c> section of a definition, checked and with paths made absolute.</summary>
public sealed record ContainerSettings
{
    public required RootfsSource Rootfs { get; init; }
    public required ProcessSettings Process { get; init; }
    public required string Hostname { get; init; }
    public IReadOnlyList<MountSettings> Mounts { get; init; } = [];
    public ResourceSettings Resources { get; init; } = new();
    public NetworkSettings Network { get; init; } = new NetworkSettings.Isolated();
    public IReadOnlyList<string> Capabilities { get; init; } = DefaultCapabilities;
    /// <summary>The definition's <c>memory</c>: the container's memory limit (swap included).</summary>
    public required ulong MemoryLimitBytes { get; init; }
    /// <summary>How long a stop waits after SIGTERM before it sends SIGKILL.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Docker's default set: enough for ordinary services, nothing that reaches the kernel or the host.</summary>
    public static readonly IReadOnlyList<string> DefaultCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];
}

/// <summary>Where the container's root filesystem comes from; it becomes the read-only lower layer of an overlay.</summary>
public abstract record RootfsSource
{
    /// <summary>Built by the project from the host's busybox-static.</summary>
    public sealed record Busybox : RootfsSource;
    /// <summary>A directory used as it is (never written: the container writes into its own upper layer).</summary>
    public sealed record Directory(string Path) : RootfsSource;
    /// <summary>A tar archive, unpacked once into the image cache.</summary>
    public sealed record Archive(string Path) : RootfsSource;
}

public sealed record ProcessSettings
{
    public static readonly IReadOnlyList<string> DefaultEnv = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

    public required IReadOnlyList<string> Args { get; init; }
    public IReadOnlyList<string> Env { get; init; } = DefaultEnv;
    public string Cwd { get; init; } = "/";
    public uint Uid { get; init; }
    public uint Gid { get; init; }
}

public enum MountKind { Bind, Tmpfs }

public sealed record MountSettings
{
    public required MountKind Kind { get; init; }
    /// <summary>Absolute host path (bind mounts only).</summary>
    public string? Source { get; init; }
    public required string Target { get; init; }
    public bool ReadOnly { get; init; }
    /// <summary>Size limit of a tmpfs in bytes, or null for the kernel's default (half the RAM).</summary>
    public ulong? SizeBytes { get; init; }
}

public sealed record ResourceSettings
{
    public ulong? CpuShares { get; init; }
    public long? CpuQuota { get; init; }
    public ulong? CpuPeriod { get; init; }
    public long? Pids { get; init; }
}

/// <summary>Which network the container sees.</summary>
public abstract record NetworkSettings
{
    /// <summary><c>'none'</c>: a network namespace of its own with only a loopback device.</summary>
    public sealed record Isolated : NetworkSettings;

    /// <summary><c>'host'</c>: the host's network namespace.</summary>
    public sealed record Host : NetworkSettings;

    /// <summary>
    /// <c>{ type: 'veth', ... }</c>: a namespace of its own with loopback and <c>eth0</c>, one end of a veth pair whose
    /// other end is attached to the host bridge <paramref name="Bridge"/>. No NAT and no default route unless
    /// <paramref name="Gateway"/> is given: traffic stays between the host and the machines on the bridge.
    /// </summary>
    /// <param name="BridgeAddress">The bridge's host address, set only when the engine creates the bridge.</param>
    public sealed record Veth(string Bridge, Ipv4Cidr Address, IPAddress? Gateway, Ipv4Cidr BridgeAddress) : NetworkSettings;
}
