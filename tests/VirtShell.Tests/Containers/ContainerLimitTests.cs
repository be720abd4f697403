using System.Diagnostics;
using VirtShell.Engine.Machines;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

public sealed class ContainerLimitTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [ContainerFact]
    public void A_memory_hog_ends_with_reason_out_of_memory()
    {
        var machine = _host.Create(_host.Spec("hog", ["/bin/sh", "-c", "echo eating; x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"], memory: 16UL << 20));
        machine.Start();
        var exit = WaitForExit(machine, TimeSpan.FromSeconds(60));
        Assert.Equal(ExitReason.OutOfMemory, exit.Reason);
        Assert.Equal(128 + 9, exit.Status);
        Assert.Contains("16 MiB", exit.Detail);
        Assert.Equal(MachineState.Crashed, machine.State);
    }

    [ContainerFact]
    public void A_fork_bomb_is_held_by_the_pids_limit_while_the_host_stays_responsive()
    {
        const int limit = 48;
        var machine = _host.StartIdle("bomb", new() { ["resources"] = new Dictionary<string, object?> { ["pids"] = (long)limit } });
        // Forks sleepers until fork fails; the sleepers keep the container's pid count at the limit.
        Exec(machine, "sh", "-c", "(while true; do sleep 1000 & done) >/dev/null 2>&1 &");

        long most = 0;
        var hostCommand = TimeSpan.Zero;
        var watch = Stopwatch.StartNew();
        // Watch until the bomb has filled the container (and a little longer, to see it go no further).
        TimeSpan? filledAt = null;
        while (watch.Elapsed < TimeSpan.FromSeconds(30) && (filledAt is null || watch.Elapsed < filledAt + TimeSpan.FromSeconds(1)))
        {
            if (most >= limit - 2) filledAt ??= watch.Elapsed;
            most = Math.Max(most, machine.Measure().Processes ?? 0);
            var probe = Stopwatch.StartNew();
            using (var p = Process.Start("/bin/true")!) p.WaitForExit();
            hostCommand = hostCommand > probe.Elapsed ? hostCommand : probe.Elapsed;
            Thread.Sleep(100);
        }
        Assert.InRange(most, limit - 2, limit); // the bomb did fill the container, and no further
        Assert.True(hostCommand < TimeSpan.FromSeconds(2), $"a host command took {hostCommand} during the bomb");

        machine.Stop(turnOff: true, TimeSpan.FromSeconds(20));
        Assert.Equal(ExitReason.StoppedByUser, machine.LastExit!.Reason);
        Assert.Empty(_host.Containers.FindLeftovers("bomb"));
    }

    [ContainerFact]
    public void Counters_show_processes_and_memory()
    {
        var machine = _host.StartIdle("count");
        var counters = machine.Measure();
        Assert.InRange(counters.Processes!.Value, 1, 5);
        Assert.InRange(counters.HostMemoryBytes!.Value, 1, 64L << 20);
        Assert.Equal(0, counters.OomKills);
        Assert.True(counters.CpuTime > TimeSpan.Zero, "the container's processes have run");
        Assert.Null(counters.Instructions);
    }
}

public sealed class ContainerResourceSettingsTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    /// <summary>A cgroup file of the machine, on the v1 (per-controller) or v2 (one tree) layout.</summary>
    private string CgroupFile(string machine, string controller, string v1File, string v2File)
    {
        string path = _host.Containers.Place(machine).CgroupsPath.TrimStart('/');
        return File.Exists("/sys/fs/cgroup/cgroup.controllers")
            ? File.ReadAllText(Path.Combine("/sys/fs/cgroup", path, v2File)).Trim()
            : File.ReadAllText(Path.Combine("/sys/fs/cgroup", controller, path, v1File)).Trim();
    }

    [ContainerFact]
    public void Memory_cpu_and_pids_settings_reach_the_cgroup()
    {
        _host.StartIdle("res", new()
        {
            ["resources"] = new Dictionary<string, object?> { ["cpuShares"] = 512L, ["cpuQuota"] = 25000L, ["cpuPeriod"] = 50000L, ["pids"] = 77L },
        }, memory: 48UL << 20);
        Assert.Equal((48L << 20).ToString(), CgroupFile("res", "memory", "memory.limit_in_bytes", "memory.max"));
        Assert.Equal("77", CgroupFile("res", "pids", "pids.max", "pids.max"));
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers"))
            Assert.Equal("25000 50000", CgroupFile("res", "cpu", "", "cpu.max"));
        else
        {
            Assert.Equal("512", CgroupFile("res", "cpu", "cpu.shares", ""));
            Assert.Equal("25000", CgroupFile("res", "cpu", "cpu.cfs_quota_us", ""));
            Assert.Equal("50000", CgroupFile("res", "cpu", "cpu.cfs_period_us", ""));
        }
    }

    [ContainerFact]
    public void Network_host_shares_the_hosts_interfaces()
    {
        var machine = _host.StartIdle("hostnet", new() { ["network"] = "host" });
        var inside = Exec(machine, "ls", "/sys/class/net").Out.Split('\n').Order().ToList();
        var outside = Directory.GetFileSystemEntries("/sys/class/net").Select(p => Path.GetFileName(p)!).Order().ToList();
        Assert.Equal(outside, inside);
        Assert.True(outside.Count > 1, "the host has only a loopback device, so this test shows nothing");
    }
}
