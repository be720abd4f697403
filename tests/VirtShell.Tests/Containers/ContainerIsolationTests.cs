using System.Diagnostics;
using VirtShell.Engine.Machines;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

/// <summary>What a process inside the container sees, and what it must not be able to do (it runs as root inside).</summary>
public sealed class ContainerIsolationTests : IDisposable
{
    private readonly ContainerTestHost _host = new();
    private readonly Machine _machine;

    public ContainerIsolationTests()
    {
        _machine = _host.StartIdle("iso", new() { ["hostname"] = "isobox" });
    }

    public void Dispose() => _host.Dispose();

    [ContainerFact]
    public void It_has_its_own_hostname()
    {
        Assert.Equal((0, "isobox", ""), Exec(_machine, "hostname"));
        Assert.NotEqual("isobox", Environment.MachineName);
    }

    [ContainerFact]
    public void Pid_1_is_its_own_init()
    {
        var (code, cmdline, _) = Exec(_machine, "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline");
        Assert.Equal(0, code);
        Assert.StartsWith("/bin/sh -c trap 'exit 0' TERM; echo ready;", cmdline);
        // This test process is not in its PID namespace (container pids are small; ours is not one of them).
        Assert.NotEqual(0, Exec(_machine, "test", "-e", $"/proc/{Environment.ProcessId}/cmdline").Code);
    }

    [ContainerFact]
    public void Its_network_namespace_has_only_loopback()
    {
        Assert.Equal((0, "lo", ""), Exec(_machine, "ls", "/sys/class/net"));
        var (_, devices, _) = Exec(_machine, "cat", "/proc/net/dev");
        var names = devices.Split('\n').Skip(2).Select(l => l.Split(':')[0].Trim()).ToList();
        Assert.Equal(["lo"], names);
    }

    [ContainerFact]
    public void Writing_sysrq_trigger_and_proc_sys_fails()
    {
        // 'h' only prints help to the kernel log, should the write ever get through.
        var (code, _, error) = Exec(_machine, "sh", "-c", "echo h > /proc/sysrq-trigger");
        Assert.NotEqual(0, code);
        // Kernels without CONFIG_MAGIC_SYSRQ (like this project's CI VM) have no such file; runc then has nothing to protect.
        Assert.Contains(File.Exists("/proc/sysrq-trigger") ? "Read-only file system" : "nonexistent", error);

        // /proc/sys is there on every kernel: read-only inside (domainname is per-UTS namespace, harmless if it got through).
        (code, _, error) = Exec(_machine, "sh", "-c", "echo evil > /proc/sys/kernel/domainname");
        Assert.NotEqual(0, code);
        Assert.Contains("Read-only file system", error);
    }

    [ContainerFact]
    public void Mounting_proc_fails()
    {
        var (code, _, error) = Exec(_machine, "sh", "-c", "mkdir -p /mnt/p && mount -t proc proc /mnt/p");
        Assert.NotEqual(0, code);
        Assert.Contains("permission denied", error, StringComparison.OrdinalIgnoreCase); // busybox's words for EPERM
        Assert.Equal(0, Exec(_machine, "sh", "-c", "! grep -q ' /mnt/p ' /proc/self/mountinfo").Code);
    }

    [ContainerFact]
    public void Masked_paths_read_as_empty()
    {
        // The host has content in each, so an empty read inside is the mask at work.
        foreach (var file in new[] { "/proc/keys", "/proc/timer_list" })
        {
            Assert.NotEmpty(File.ReadAllText(file));
            Assert.Equal((0, "0", ""), Exec(_machine, "sh", "-c", $"wc -c < {file} | tr -d ' '"));
        }
        Assert.NotEmpty(Directory.EnumerateFileSystemEntries("/sys/firmware"));
        Assert.Equal((0, "", ""), Exec(_machine, "ls", "/sys/firmware"));
        Assert.NotEqual(0, Exec(_machine, "sh", "-c", "echo x > /sys/firmware/x").Code);
    }

    [ContainerFact]
    public void Loading_a_kernel_module_fails()
    {
        // Not a module at all: on the host as root this fails with "Exec format error"; inside, it must not get that far.
        var (code, _, error) = Exec(_machine, "insmod", "/bin/busybox");
        Assert.NotEqual(0, code);
        Assert.Contains("Operation not permitted", error);
    }

    [ContainerFact]
    public void Namespace_tricks_fail()
    {
        var (code, _, error) = Exec(_machine, "unshare", "-n", "true");
        Assert.NotEqual(0, code);
        Assert.Contains("Operation not permitted", error);
    }

    [ContainerFact]
    public void Capabilities_are_the_small_default_set()
    {
        var (_, status, _) = Exec(_machine, "grep", "CapEff", "/proc/self/status");
        ulong effective = Convert.ToUInt64(status.Split('\t', ' ').Last(), 16);
        const int CapSysAdmin = 21, CapSysModule = 16, CapNetAdmin = 12, CapChown = 0;
        Assert.Equal(0UL, effective & (1UL << CapSysAdmin));
        Assert.Equal(0UL, effective & (1UL << CapSysModule));
        Assert.Equal(0UL, effective & (1UL << CapNetAdmin));
        Assert.NotEqual(0UL, effective & (1UL << CapChown));
    }
}

public sealed class ContainerUserTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [ContainerFact]
    public void The_process_runs_as_the_uid_and_gid_it_was_given()
    {
        var machine = _host.Create(_host.Spec("user", ["/bin/sh", "-c", "id -u; id -g; echo done"], new()
        {
            ["process"] = new Dictionary<string, object?>
            {
                ["args"] = new List<object?> { "/bin/sh", "-c", "echo uid=$(id -u) gid=$(id -g)" },
                ["uid"] = 1234L,
                ["gid"] = 4321L,
            },
        }));
        machine.Start();
        Assert.Equal(0, WaitForExit(machine).Status);
        Assert.Contains("uid=1234 gid=4321\n", ConsoleText(machine));
    }
}

/// <summary>The classic chroot escape (chroot into a subfolder without leaving the cwd, then climb): it must end at the container's root.</summary>
public sealed class ContainerChrootEscapeTests : IDisposable
{
    private const string EscapeSource = """
        #include <stdio.h>
        #include <unistd.h>
        #include <sys/stat.h>
        int main(int argc, char **argv) {
            mkdir("/tmp/jail", 0755);
            if (chroot("/tmp/jail") != 0) { perror("chroot jail"); return 2; }
            for (int i = 0; i < 256; i++) chdir("..");
            if (chroot(".") != 0) { perror("chroot ."); return 3; }
            printf(access(argv[1], F_OK) == 0 ? "ESCAPED\n" : "CONTAINED\n");
            return 0;
        }
        """;

    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [ContainerFact]
    public void A_chroot_escape_stays_inside_the_container()
    {
        string tools = Path.Combine(_host.Home, "tools");
        Directory.CreateDirectory(tools);
        File.WriteAllText(Path.Combine(tools, "escape.c"), EscapeSource);
        var gcc = Process.Start(new ProcessStartInfo("gcc", ["-static", "-O1", "-o", Path.Combine(tools, "escape"), Path.Combine(tools, "escape.c")])
            { RedirectStandardError = true })!;
        gcc.WaitForExit();
        Assert.True(gcc.ExitCode == 0, "gcc -static is needed to build the escape program: " + gcc.StandardError.ReadToEnd());

        var machine = _host.StartIdle("jail", new()
        {
            ["mounts"] = new List<object?>
            {
                new Dictionary<string, object?> { ["type"] = "bind", ["source"] = tools, ["target"] = "/opt/tools", ["readOnly"] = true },
            },
        });
        // The marker is the test's own folder on the host: visible from the host's root, not from the container's.
        var (code, output, error) = Exec(machine, "/opt/tools/escape", _host.Home);
        Assert.True(code == 0, $"escape program failed ({code}): {error}");
        Assert.Equal("CONTAINED", output);
        Assert.NotEqual(0, Exec(machine, "sh", "-c", "echo x > /opt/tools/written").Code); // the bind mount is read-only
    }
}
