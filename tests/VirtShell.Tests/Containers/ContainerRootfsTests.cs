using System.Diagnostics;
using VirtShell.Engine.Machines;
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

/// <summary>Files written into the rootfs before the process starts (what a beforeBoot hook would do).</summary>
public sealed class ContainerRootfsFilesTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    private (VirtShell.Containers.ContainerRuntime Runtime, VirtShell.Engine.Console.ConsoleChannel Console) Create(string name, IEnumerable<string> args, Dictionary<string, object?>? container = null)
    {
        var spec = _host.Spec(name, args, container);
        Directory.CreateDirectory(Path.Combine(_host.Home, "machines", name));
        var console = new VirtShell.Engine.Console.ConsoleChannel(null);
        var runtime = VirtShell.Containers.ContainerRuntime.Create(_host.Containers,
            VirtShell.Containers.Definition.ContainerSettingsReader.Read(spec), name,
            new VirtShell.Engine.Models.MachineServices(console, _ => { }, _ => { }));
        return (runtime, console);
    }

    private static string Output(VirtShell.Engine.Console.ConsoleChannel console)
    {
        long offset = 0;
        return System.Text.Encoding.UTF8.GetString(console.ReadFrom(ref offset));
    }

    [ContainerFact]
    public void Files_written_before_the_start_are_there_for_the_process_and_only_in_the_upper_layer()
    {
        var (runtime, console) = Create("files", ["/bin/sh", "-c", "cat /etc/app/conf.txt; stat -c %a /etc/app/conf.txt"]);
        using (runtime)
        using (console)
        {
            runtime.Files.WriteFile("/etc/app/conf.txt", "from the hook\n"u8, 0x180 /* 0600 */);
            Assert.Equal("from the hook\n"u8.ToArray(), runtime.Files.ReadFile("/etc/app/conf.txt"));
            var exit = runtime.Run();
            Assert.Equal(0, exit.Status);
            Assert.Equal("from the hook\n600\n", Output(console));
        }
        Assert.False(File.Exists(Path.Combine(_host.Containers.Images.Busybox(), "etc/app/conf.txt")));
        Assert.True(File.Exists(Path.Combine(_host.Home, "machines/files/overlay/upper/etc/app/conf.txt")));
    }

    [ContainerFact]
    public void A_symlink_in_the_image_cannot_send_a_write_to_the_host()
    {
        string outside = Path.Combine(_host.Home, "outside");
        Directory.CreateDirectory(outside);
        string root = Path.Combine(_host.Home, "linkroot");
        Directory.CreateDirectory(Path.Combine(root, "bin"));
        File.Copy("/bin/busybox", Path.Combine(root, "bin/busybox"));
        File.CreateSymbolicLink(Path.Combine(root, "bin/sh"), "busybox");
        // Absolute, and with enough ".." to climb out of any root: from the host's view it points at `outside`.
        File.CreateSymbolicLink(Path.Combine(root, "escape"), "/../../../../../.." + outside);
        Directory.CreateDirectory(root + outside); // inside the container, the same path exists too

        var (runtime, console) = Create("links", ["/bin/sh", "-c", "true"], new() { ["rootfs"] = root });
        using (runtime)
        using (console)
        {
            runtime.Files.WriteFile("/escape/pwned", "x"u8);
            Assert.Equal("x"u8.ToArray(), runtime.Files.ReadFile(outside + "/pwned"));
            // Climbing with ".." stops at the container's root: the definition file beside `outside` on the host is not reachable.
            Assert.True(File.Exists(Path.Combine(_host.Home, "links.js")));
            Assert.Throws<IOException>(() => runtime.Files.ReadFile("/../../../../../.." + Path.Combine(_host.Home, "links.js")));
        }
        Assert.Empty(Directory.GetFileSystemEntries(outside));
        Assert.True(File.Exists(Path.Combine(_host.Home, "machines/links/overlay/upper") + outside + "/pwned"));
    }
}
