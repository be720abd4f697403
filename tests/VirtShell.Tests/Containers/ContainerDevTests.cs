using System.Diagnostics;
using VirtShell.Engine.Machines;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

/// <summary>
/// runc 1.1.5 (Debian 12) follows a symlinked /dev/null, /dev/console, /dev/pts/ptmx or masked path while it sets a
/// container up (CVE-2025-31133, CVE-2025-52565): the engine refuses such images and makes /dev itself.
/// </summary>
public sealed class ContainerDevTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    /// <summary>A minimal root: busybox and a shell, plus <paramref name="plant"/> run on it.</summary>
    private string MakeRoot(string name, Action<string> plant)
    {
        string root = Path.Combine(_host.Home, name);
        Directory.CreateDirectory(Path.Combine(root, "bin"));
        File.Copy("/bin/busybox", Path.Combine(root, "bin/busybox"));
        File.CreateSymbolicLink(Path.Combine(root, "bin/sh"), "busybox");
        plant(root);
        return root;
    }

    private static void Link(string root, string path, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(root + path)!);
        File.CreateSymbolicLink(root + path, target);
    }

    private static void PlainFile(string root, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(root + path)!);
        File.WriteAllText(root + path, "");
    }

    private void AssertRefused(string name, string rootfs, string expected)
    {
        var machine = _host.Create(_host.Spec(name, ["/bin/sh", "-c", "echo ran"], new() { ["rootfs"] = rootfs }));
        var error = Assert.ThrowsAny<Exception>(machine.Start);
        Assert.Contains("container.rootfs:", error.Message);
        Assert.Contains($"'{rootfs}'", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.Equal(MachineState.Created, machine.State);
        Assert.Empty(_host.Containers.FindLeftovers(name));
    }

    [ContainerFact]
    public void Rootfs_trees_with_symlinks_or_files_where_runc_expects_devices_are_refused()
    {
        AssertRefused("null-link", MakeRoot("null-link", r => Link(r, "/dev/null", "/proc/sys/kernel/core_pattern")),
            "/dev/null as a symlink (to '/proc/sys/kernel/core_pattern')");
        AssertRefused("console-file", MakeRoot("console-file", r => PlainFile(r, "/dev/console")), "/dev/console as a regular file, not a device");
        AssertRefused("ptmx-link", MakeRoot("ptmx-link", r => Link(r, "/dev/pts/ptmx", "/proc/sysrq-trigger")), "/dev/pts/ptmx as a symlink");
        AssertRefused("kcore-link", MakeRoot("kcore-link", r => Link(r, "/proc/kcore", "/proc/sys/kernel/modprobe")), "/proc/kcore as a symlink");
        // A symlink on the way counts too: runc would resolve /dev/null through it.
        AssertRefused("dev-link", MakeRoot("dev-link", r => Link(r, "/dev", "/proc/sys/kernel")), "/dev as a symlink");
    }

    [ContainerFact]
    public void A_tar_image_with_a_masked_path_as_a_file_is_refused()
    {
        string root = MakeRoot("tar-kcore", r => PlainFile(r, "/proc/keys"));
        string archive = Path.Combine(_host.Home, "kcore.tar");
        using (var tar = Process.Start("tar", ["-cf", archive, "-C", root, "."])) tar.WaitForExit();
        AssertRefused("tar-kcore", archive, "/proc/keys as a regular file, not a device");
    }

    [ContainerFact]
    public void Device_nodes_and_directories_in_the_image_are_accepted()
    {
        string root = MakeRoot("real-dev", r =>
        {
            Directory.CreateDirectory(Path.Combine(r, "dev/pts"));
            Directory.CreateDirectory(Path.Combine(r, "proc/acpi")); // a directory at a masked directory is harmless
            using var mknod = Process.Start("mknod", ["-m", "666", Path.Combine(r, "dev/null"), "c", "1", "3"]);
            mknod.WaitForExit();
        });
        var machine = _host.Create(_host.Spec("real-dev", ["/bin/sh", "-c", "echo ran"], new() { ["rootfs"] = root }));
        machine.Start();
        Assert.Equal(0, WaitForExit(machine).Status);
        Assert.Equal("ran\n", ConsoleText(machine));
    }

    [ContainerFact]
    public void The_engine_makes_dev_and_takes_it_away_with_the_run()
    {
        var machine = _host.StartIdle("devs");
        string dev = _host.Containers.Place("devs").DevDirectory;
        Assert.Contains(_host.Containers.FindLeftovers("devs"), l => l == $"mount {dev}");

        var (code, listing, _) = Exec(machine, "ls", "-l", "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty");
        Assert.Equal(0, code);
        Assert.All(listing.Split('\n'), l => Assert.StartsWith("crw-rw-rw-", l));
        Assert.Matches(@"(?m) 1, +3 .* /dev/null$", listing);
        Assert.Equal((0, "pts/ptmx", ""), Exec(machine, "readlink", "/dev/ptmx"));
        Assert.Equal((0, "/proc/self/fd", ""), Exec(machine, "readlink", "/dev/fd"));
        Assert.Equal((0, "4", ""), Exec(machine, "sh", "-c", "head -c 4 /dev/zero | wc -c | tr -d ' '"));
        Assert.Equal(0, Exec(machine, "sh", "-c", "echo gone > /dev/null").Code);
        // runc still mounts devpts, shm and mqueue on the folders made for them.
        var (_, mounts, _) = Exec(machine, "cat", "/proc/self/mounts");
        Assert.Contains(" /dev/pts devpts ", mounts);
        Assert.Contains(" /dev/shm tmpfs ", mounts);
        Assert.Contains(" /dev/mqueue mqueue ", mounts);

        machine.Stop(turnOff: false, TimeSpan.FromSeconds(10));
        Assert.Empty(_host.Containers.FindLeftovers("devs"));
    }
}
