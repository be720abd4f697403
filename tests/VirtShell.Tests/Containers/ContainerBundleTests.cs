using System.Text.Json.Nodes;
using VirtShell.Containers.Bundle;
using VirtShell.Containers.Definition;

namespace VirtShell.Tests.Containers;

/// <summary>The OCI config the engine hands runc, checked as data (no root needed).</summary>
public sealed class ContainerBundleTests
{
    private static ContainerSettings Settings(NetworkSettings? network = null, ResourceSettings? resources = null) => new()
    {
        Rootfs = new RootfsSource.Busybox(),
        Process = new ProcessSettings { Args = ["/bin/sh"], Uid = 7, Gid = 8 },
        Hostname = "box",
        Network = network ?? new NetworkSettings.Isolated(),
        Resources = resources ?? new ResourceSettings(),
        MemoryLimitBytes = 32UL << 20,
        Mounts = [new MountSettings { Kind = MountKind.Bind, Source = "/srv/data", Target = "/data", ReadOnly = true }],
    };

    private static List<string> Strings(JsonNode? array) => array!.AsArray().Select(n => n!.GetValue<string>()).ToList();

    [Fact]
    public void Namespaces_include_an_own_network_except_for_network_host()
    {
        JsonArray Namespaces(NetworkSettings network, string? ns = null) =>
            OciBundle.Build(Settings(network), "/r", "/d", "/virtshell/x", ns)["linux"]!["namespaces"]!.AsArray();
        List<string> Types(NetworkSettings network, string? ns = null) => Namespaces(network, ns).Select(n => n!["type"]!.GetValue<string>()).ToList();
        Assert.Equal(["pid", "ipc", "uts", "mount", "cgroup", "network"], Types(new NetworkSettings.Isolated()));
        Assert.Equal(["pid", "ipc", "uts", "mount", "cgroup"], Types(new NetworkSettings.Host()));

        // A veth network's namespace is made and wired by the engine first: runc joins it by path.
        var veth = new NetworkSettings.Veth("vsbr0", Ipv4Cidr.TryParse("10.77.0.2/24", out _)!, null, Ipv4Cidr.TryParse("10.77.0.1/24", out _)!);
        var network = Namespaces(veth, "/run/netns/virtshell-x").Single(n => n!["type"]!.GetValue<string>() == "network")!;
        Assert.Equal("/run/netns/virtshell-x", network["path"]!.GetValue<string>());
        Assert.Throws<ArgumentNullException>(() => Namespaces(veth));
    }

    [Fact]
    public void Process_user_hostname_root_and_no_new_privileges()
    {
        var config = OciBundle.Build(Settings(), "/machines/c1/rootfs", "/machines/c1/dev", "/virtshell/x");
        Assert.Equal(7u, config["process"]!["user"]!["uid"]!.GetValue<uint>());
        Assert.Equal(8u, config["process"]!["user"]!["gid"]!.GetValue<uint>());
        Assert.False(config["process"]!["terminal"]!.GetValue<bool>());
        Assert.True(config["process"]!["noNewPrivileges"]!.GetValue<bool>());
        Assert.Equal("box", config["hostname"]!.GetValue<string>());
        Assert.Equal("/machines/c1/rootfs", config["root"]!["path"]!.GetValue<string>());
        Assert.Equal("/virtshell/x", config["linux"]!["cgroupsPath"]!.GetValue<string>());
        Assert.Equal(ContainerSettings.DefaultCapabilities, Strings(config["process"]!["capabilities"]!["bounding"]));
    }

    [Fact]
    public void Mounts_masks_and_read_only_paths_follow_runc_defaults_with_our_own_dev()
    {
        var config = OciBundle.Build(Settings(), "/r", "/machines/c1/dev", "/virtshell/x");
        var mounts = config["mounts"]!.AsArray().ToDictionary(m => m!["destination"]!.GetValue<string>(), m => m!);
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/data"], mounts.Keys);
        Assert.Contains("ro", Strings(mounts["/sys"]["options"]));
        // /dev is the engine's own, bound in: runc then makes no device node of its own.
        Assert.Equal("/machines/c1/dev", mounts["/dev"]["source"]!.GetValue<string>());
        Assert.Equal("bind", mounts["/dev"]["type"]!.GetValue<string>());
        Assert.Equal("/srv/data", mounts["/data"]["source"]!.GetValue<string>());
        Assert.Contains("ro", Strings(mounts["/data"]["options"]));
        Assert.Contains("/proc/kcore", Strings(config["linux"]!["maskedPaths"]));
        Assert.Contains("/proc/sysrq-trigger", Strings(config["linux"]!["readonlyPaths"]));
    }

    [Fact]
    public void Resources_carry_memory_without_swap_pids_and_cpu()
    {
        var resources = OciBundle.Build(Settings(resources: new ResourceSettings { Pids = 9, CpuShares = 100, CpuQuota = 20000 }), "/r", "/d", "/x")["linux"]!["resources"]!;
        Assert.Equal(32UL << 20, resources["memory"]!["limit"]!.GetValue<ulong>());
        Assert.Equal(32UL << 20, resources["memory"]!["swap"]!.GetValue<ulong>());
        Assert.Equal(9, resources["pids"]!["limit"]!.GetValue<long>());
        Assert.Equal(100UL, resources["cpu"]!["shares"]!.GetValue<ulong>());
        Assert.Equal(20000, resources["cpu"]!["quota"]!.GetValue<long>());
        Assert.Equal(100000UL, resources["cpu"]!["period"]!.GetValue<ulong>()); // the kernel's default period
        Assert.Null(OciBundle.Build(Settings(), "/r", "/d", "/x")["linux"]!["resources"]!["pids"]);
    }
}
