using VirtShell.Containers.Definition;
using VirtShell.Engine.Definitions;
using VirtShell.Models.Container;

namespace VirtShell.Tests.Containers;

/// <summary>The container section is checked before anything runs; each error names the field at fault. No root needed.</summary>
public sealed class ContainerDefinitionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("virtshell-cdef-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private MachineSpec Spec(Dictionary<string, object?> container, ulong memory = 64UL << 20) => new()
    {
        Name = "c1", Model = "container", MemoryBytes = memory,
        DefinitionPath = Path.Combine(_dir, "c1.js"),
        Source = new SourceLocation(Path.Combine(_dir, "c1.js"), 3),
        Sections = new Dictionary<string, object?> { ["container"] = container },
    };

    private static Dictionary<string, object?> Busybox(params (string Key, object? Value)[] extra)
    {
        var section = new Dictionary<string, object?> { ["rootfs"] = new Dictionary<string, object?> { ["busybox"] = true } };
        foreach (var (key, value) in extra) section[key] = value;
        return section;
    }

    private string Error(Dictionary<string, object?> container, ulong memory = 64UL << 20) =>
        Assert.Throws<DefinitionException>(() => new ContainerModel(_dir).Validate(Spec(container, memory))).Message;

    [Fact]
    public void A_full_definition_reads_into_settings()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "data"));
        var settings = ContainerSettingsReader.Read(Spec(Busybox(
            ("process", new Dictionary<string, object?>
            {
                ["args"] = new List<object?> { "/bin/sh", "-c", "true" }, ["env"] = new List<object?> { "PATH=/bin" },
                ["cwd"] = "/tmp", ["uid"] = 1000L, ["gid"] = 100L, ["terminal"] = false,
            }),
            ("hostname", "box"),
            ("mounts", new List<object?>
            {
                new Dictionary<string, object?> { ["type"] = "bind", ["source"] = "./data", ["target"] = "/data", ["readOnly"] = true },
                new Dictionary<string, object?> { ["type"] = "tmpfs", ["target"] = "/scratch", ["size"] = "8M" },
            }),
            ("resources", new Dictionary<string, object?> { ["cpuShares"] = 512L, ["cpuQuota"] = 50000L, ["cpuPeriod"] = 100000L, ["pids"] = 64L }),
            ("network", "none"),
            ("capabilities", new List<object?> { "CAP_CHOWN", "CAP_KILL" }))));

        Assert.IsType<RootfsSource.Busybox>(settings.Rootfs);
        Assert.Equal(["/bin/sh", "-c", "true"], settings.Process.Args);
        Assert.Equal((1000u, 100u, "/tmp"), (settings.Process.Uid, settings.Process.Gid, settings.Process.Cwd));
        Assert.Equal("box", settings.Hostname);
        Assert.Equal(Path.Combine(_dir, "data"), settings.Mounts[0].Source); // relative to the definition's folder
        Assert.True(settings.Mounts[0].ReadOnly);
        Assert.Equal(8UL << 20, settings.Mounts[1].SizeBytes);
        Assert.Equal(64, settings.Resources.Pids);
        Assert.Equal(["CAP_CHOWN", "CAP_KILL"], settings.Capabilities);
        Assert.Equal(64UL << 20, settings.MemoryLimitBytes);
    }

    [Fact]
    public void Defaults_are_a_shell_named_after_the_machine_with_docker_like_capabilities()
    {
        var settings = ContainerSettingsReader.Read(Spec(Busybox()));
        Assert.Equal(["/bin/sh"], settings.Process.Args);
        Assert.Equal("c1", settings.Hostname);
        Assert.IsType<NetworkSettings.Isolated>(settings.Network);
        Assert.Contains("CAP_NET_BIND_SERVICE", settings.Capabilities);
        Assert.DoesNotContain("CAP_SYS_ADMIN", settings.Capabilities);
    }

    [Fact]
    public void A_rootfs_path_that_does_not_exist_is_named()
    {
        string message = Error(new() { ["rootfs"] = "./missing-rootfs" });
        Assert.Contains("container.rootfs", message);
        Assert.Contains(Path.Combine(_dir, "missing-rootfs"), message);
        Assert.Contains("c1.js:3", message);
    }

    [Fact]
    public void A_rootfs_file_that_is_not_an_archive_is_refused()
    {
        File.WriteAllText(Path.Combine(_dir, "notes.txt"), "x");
        Assert.Contains("not a tar archive", Error(new() { ["rootfs"] = "./notes.txt" }));
    }

    [Fact]
    public void A_missing_rootfs_or_section_is_named()
    {
        Assert.Contains("container.rootfs: is required", Error(new()));
        var spec = Spec(Busybox()) with { Sections = new Dictionary<string, object?>() };
        Assert.Contains("container: a container definition needs", Assert.Throws<DefinitionException>(() => ContainerSettingsReader.Read(spec)).Message);
    }

    [Fact]
    public void Impossible_memory_limits_are_refused()
    {
        Assert.Contains("memory: 1048576 bytes is below", Error(Busybox(), memory: 1UL << 20));
        Assert.Contains("more than this host has", Error(Busybox(), memory: 1UL << 50));
    }

    [Theory]
    [InlineData("container.colour", "colour", "red")]
    [InlineData("container.network", "network", "bridge")]
    [InlineData("container.hostname", "hostname", "not a host name")]
    public void Bad_top_level_settings_are_named(string field, string key, object value)
    {
        Assert.Contains(field, Error(Busybox((key, value))));
    }

    [Fact]
    public void Bad_process_settings_are_named()
    {
        Assert.Contains("container.process.terminal", Error(Busybox(("process", new Dictionary<string, object?> { ["terminal"] = true }))));
        Assert.Contains("container.process.args", Error(Busybox(("process", new Dictionary<string, object?> { ["args"] = new List<object?>() }))));
        Assert.Contains("container.process.uid", Error(Busybox(("process", new Dictionary<string, object?> { ["uid"] = -1L }))));
        Assert.Contains("container.process.cwd", Error(Busybox(("process", new Dictionary<string, object?> { ["cwd"] = "tmp" }))));
        Assert.Contains("container.process.env[0]", Error(Busybox(("process", new Dictionary<string, object?> { ["env"] = new List<object?> { "NOEQUALS" } }))));
        Assert.Contains("container.process.user", Error(Busybox(("process", new Dictionary<string, object?> { ["user"] = "root" }))));
    }

    [Fact]
    public void Bad_resources_are_named()
    {
        Assert.Contains("container.resources.pids: 0 is out of range", Error(Busybox(("resources", new Dictionary<string, object?> { ["pids"] = 0L }))));
        Assert.Contains("container.resources.cpuQuota", Error(Busybox(("resources", new Dictionary<string, object?> { ["cpuQuota"] = 10L }))));
        Assert.Contains("container.resources.cpuPeriod: has no effect without cpuQuota",
            Error(Busybox(("resources", new Dictionary<string, object?> { ["cpuPeriod"] = 100000L }))));
        Assert.Contains("container.resources.pids: must be an integer", Error(Busybox(("resources", new Dictionary<string, object?> { ["pids"] = "many" }))));
    }

    [Fact]
    public void Bad_mounts_are_named_by_index()
    {
        static Dictionary<string, object?> D(params (string Key, object? Value)[] entries) => entries.ToDictionary(e => e.Key, e => e.Value);
        Dictionary<string, object?> Mounts(params Dictionary<string, object?>[] mounts) => Busybox(("mounts", mounts.Cast<object?>().ToList()));
        Assert.Contains("container.mounts[0].source: '" + Path.Combine(_dir, "nope") + "' does not exist",
            Error(Mounts(D(("type", "bind"), ("source", "./nope"), ("target", "/x")))));
        Assert.Contains("container.mounts[1].target: '/t' is mounted twice",
            Error(Mounts(D(("type", "tmpfs"), ("target", "/t")), D(("type", "tmpfs"), ("target", "/t/")))));
        Assert.Contains("container.mounts[0].target", Error(Mounts(D(("type", "tmpfs"), ("target", "/proc/sys")))));
        Assert.Contains("container.mounts[0].target", Error(Mounts(D(("type", "tmpfs"), ("target", "relative")))));
        Assert.Contains("container.mounts[0].type", Error(Mounts(D(("type", "nfs"), ("target", "/n")))));
        Assert.Contains("container.mounts[0].size", Error(Mounts(D(("type", "tmpfs"), ("target", "/n"), ("size", "lots")))));
    }

    [Fact]
    public void Unknown_capabilities_and_vm_parts_are_refused()
    {
        Assert.Contains("container.capabilities[1]", Error(Busybox(("capabilities", new List<object?> { "CAP_CHOWN", "CAP_FLY" }))));
        var withDevice = Spec(Busybox()) with { Devices = [new DeviceSpec { Type = "uart16550" }] };
        Assert.Contains("devices: a container has no emulated devices (found uart16550)",
            Assert.Throws<DefinitionException>(() => ContainerSettingsReader.Read(withDevice)).Message);
    }

    [Fact]
    public void The_model_says_why_it_is_unavailable_or_that_it_is_available()
    {
        var availability = new ContainerModel(_dir, runc: "/no/such/runc").GetAvailability();
        Assert.False(availability.IsAvailable);
        Assert.Contains(Environment.IsPrivilegedProcess ? "runc not found" : "root", availability.Reason);
    }
}
