using System.Diagnostics;
using VirtShell.Engine.Machines;
using Xunit;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

/// <summary>The three rootfs sources: the built-in busybox image, a directory, a tar archive. None is ever written.</summary>
public sealed class ContainerRootfsTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    /// <summary>A minimal root of our own: busybox and a shell, plus a file that says which root it is.</summary>
    private string MakeRootDirectory(string name)
    {
        string root = Path.Combine(_host.Home, name);
        Directory.CreateDirectory(Path.Combine(root, "bin"));
        File.Copy("/bin/busybox", Path.Combine(root, "bin/busybox"));
        File.CreateSymbolicLink(Path.Combine(root, "bin/sh"), "busybox");
        File.CreateSymbolicLink(Path.Combine(root, "bin/cat"), "busybox");
        File.WriteAllText(Path.Combine(root, "origin"), name + "\n");
        return root;
    }

    private Dictionary<string, object?> Rootfs(string path) => new() { ["rootfs"] = path };

    [ContainerFact]
    public void A_directory_rootfs_is_used_as_the_lower_layer_and_never_written()
    {
        string root = MakeRootDirectory("dir-root");
        var machine = _host.Create(_host.Spec("dir", ["/bin/sh", "-c", "cat /origin; echo changed > /origin; cat /origin"], Rootfs(root)));
        machine.Start();
        Assert.Equal(0, WaitForExit(machine).Status);
        Assert.Equal("dir-root\nchanged\n", ConsoleText(machine));
        Assert.Equal("dir-root\n", File.ReadAllText(Path.Combine(root, "origin")));
    }

    [ContainerFact]
    public void A_tar_rootfs_is_unpacked_once_into_the_image_cache()
    {
        string root = MakeRootDirectory("tar-root");
        string archive = Path.Combine(_host.Home, "root.tar.gz");
        using (var tar = Process.Start("tar", ["-czf", archive, "-C", root, "."])) tar.WaitForExit();

        var first = _host.Create(_host.Spec("tar1", ["/bin/cat", "/origin"], Rootfs(archive)));
        first.Start();
        Assert.Equal(0, WaitForExit(first).Status);
        Assert.Equal("tar-root\n", ConsoleText(first));

        var second = _host.Create(_host.Spec("tar2", ["/bin/cat", "/origin"], Rootfs(archive)));
        second.Start();
        Assert.Equal(0, WaitForExit(second).Status);
        Assert.Single(Directory.GetDirectories(_host.Containers.Images.Directory, "tar-*"));
        Assert.Empty(Directory.GetDirectories(_host.Containers.Images.Directory, ".build-*"));
    }

    [ContainerFact]
    public void The_busybox_image_has_applets_users_and_the_usual_folders()
    {
        var machine = _host.StartIdle("bb");
        Assert.Equal((0, "root", ""), Exec(machine, "whoami"));
        Assert.Equal(0, Exec(machine, "sh", "-c", "test -d /tmp && test -d /root && test -x /usr/bin/wc && test -x /sbin/insmod").Code);
        Assert.Equal((0, "1777", ""), Exec(machine, "stat", "-c", "%a", "/tmp"));
    }
}
