using System.Text;
using System.Text.Json.Nodes;
using VirtShell.Containers;
using VirtShell.Containers.Bundle;
using VirtShell.Containers.Checkpoint;
using VirtShell.Containers.Definition;
using VirtShell.Containers.Rootfs;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;

namespace VirtShell.Tests.Containers;

/// <summary>A fact that needs CRIU working here: skipped with <c>criu check</c>'s failure explained where it does not.</summary>
public sealed class CriuFactAttribute : FactAttribute
{
    public CriuFactAttribute()
    {
        var availability = new VirtShell.Models.Container.ContainerModel().GetAvailability();
        if (!availability.IsAvailable) Skip = $"container model unavailable: {availability.Reason}";
        else if (CriuCheck.UnavailableReason(CriuCheck.Find()) is { } reason) Skip = $"CRIU cannot checkpoint here: {reason}";
    }
}

/// <summary>A fact about how a checkpoint fails where CRIU does not work: skipped where it does (the CriuFacts cover that).</summary>
public sealed class CriuUnavailableFactAttribute : FactAttribute
{
    public CriuUnavailableFactAttribute()
    {
        var availability = new VirtShell.Models.Container.ContainerModel().GetAvailability();
        if (!availability.IsAvailable) Skip = $"container model unavailable: {availability.Reason}";
        else if (CriuCheck.UnavailableReason(CriuCheck.Find()) is null) Skip = "CRIU works here: the checkpoint and restore facts run instead";
    }
}

public sealed class ContainerCheckpointTests : IDisposable
{
    private const string Counter = "i=0; echo written > /before; while true; do i=$((i+1)); echo \"count $i\"; echo $i > /count; sleep 0.2; done";

    private readonly ContainerTestHost _host = new();
    private readonly List<DirectRun> _runs = [];

    public void Dispose()
    {
        foreach (var run in _runs) run.Dispose();
        _host.Dispose();
    }

    private string CheckpointPath(string name) => Path.Combine(_host.Home, "checkpoints", name);

    private DirectRun Start(MachineSpec spec)
    {
        var run = new DirectRun(services => (ContainerRuntime)_host.Model.CreateRuntime(spec, services));
        _runs.Add(run);
        return run;
    }

    private DirectRun Resume(MachineSpec spec, string checkpoint)
    {
        var run = new DirectRun(services => (ContainerRuntime)_host.Model.Restore(spec, services, checkpoint));
        _runs.Add(run);
        return run;
    }

    [CriuFact]
    public void A_counting_container_goes_on_counting_after_restore_with_its_written_files()
    {
        var spec = _host.Spec("counter", ["/bin/sh", "-c", Counter]);
        var first = Start(spec);
        Assert.True(first.WaitFor(text => LastCount(text) >= 5), first.Text());
        string checkpoint = CheckpointPath("counter");

        first.Runtime.Checkpoint(checkpoint, leaveRunning: false);

        var exit = first.WaitForExit();
        Assert.Equal(ExitReason.StoppedByUser, exit.Reason);
        Assert.Contains("checkpointed", exit.Detail);
        int before = LastCount(first.Text());
        first.Dispose();

        var second = Resume(spec, checkpoint);
        Assert.True(second.WaitFor(text => FirstCount(text) > 0), second.Text());
        // The first number after the restore follows the last one before it (the kill that ends the checkpointed run
        // may let one more through): a restart would print 1.
        int resumed = FirstCount(second.Text());
        Assert.InRange(resumed, before, before + 1);
        Assert.True(second.WaitFor(text => LastCount(text) > resumed + 1), second.Text());
        Assert.Equal("written\n", Encoding.UTF8.GetString(second.Runtime.Files.ReadFile("/before")));
        Assert.True(int.Parse(Encoding.UTF8.GetString(second.Runtime.Files.ReadFile("/count"))) >= resumed);
    }

    [CriuFact]
    public void A_checkpoint_that_leaves_the_container_running_can_be_restored_after_a_stop()
    {
        var spec = _host.Spec("runs-on", ["/bin/sh", "-c", Counter]);
        var first = Start(spec);
        Assert.True(first.WaitFor(text => LastCount(text) >= 3), first.Text());
        string checkpoint = CheckpointPath("runs-on");
        first.Runtime.Checkpoint(checkpoint, leaveRunning: true);
        int at = LastCount(first.Text());
        Assert.True(first.WaitFor(text => LastCount(text) > at + 2), "the container stopped counting after a leave-running checkpoint");
        first.Dispose();

        var second = Resume(spec, checkpoint);
        Assert.True(second.WaitFor(text => FirstCount(text) > 0), second.Text());
        Assert.True(FirstCount(second.Text()) > 1, second.Text());
    }

    [CriuUnavailableFact]
    public void Where_CRIU_cannot_run_a_checkpoint_fails_with_the_reason_and_the_container_runs_on()
    {
        var first = Start(_host.Spec("nocriu", ["/bin/sh", "-c", Counter]));
        Assert.True(first.WaitFor(text => LastCount(text) >= 2), first.Text());
        string checkpoint = CheckpointPath("nocriu");

        var e = Assert.Throws<CheckpointException>(() => first.Runtime.Checkpoint(checkpoint, leaveRunning: false));

        Assert.Contains("container 'nocriu' cannot be checkpointed here", e.Message);
        Assert.Equal(CriuCheck.UnavailableReason(CriuCheck.Find()), first.Runtime.CheckpointUnavailableReason());
        Assert.Contains(first.Runtime.CheckpointUnavailableReason()!, e.Message);
        Assert.False(Directory.Exists(checkpoint));
        Assert.False(Directory.Exists(Path.GetDirectoryName(checkpoint)) && Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(checkpoint)!).Any());
        int at = LastCount(first.Text());
        Assert.True(first.WaitFor(text => LastCount(text) > at + 1), "the container stopped counting after a refused checkpoint");
    }

    [Fact]
    public void A_CRIU_older_than_the_split_vDSO_data_is_explained()
    {
        // criu check's output on this project's host (CRIU 3.17.1, Linux 6.18).
        const string output = """
            Error (criu/util.c:642): exited, status=1
            Error (criu/util.c:642): exited, status=1
            Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds
            Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable
            Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.
            Error (criu/crtools.c:260): Could not initialize kernel features detection.
            """;
        string reason = CriuCheck.Explain(output, "3.17.1", "6.18.44", kernelHasVvarVclock: true);
        Assert.Contains("CRIU 3.17.1 cannot run on kernel 6.18.44", reason);
        Assert.Contains("[vvar_vclock]", reason);
        Assert.Contains("6.13", reason);

        string other = CriuCheck.Explain("Error (criu/cr-check.c:1): something else\n", "3.17.1", "5.10", kernelHasVvarVclock: false);
        Assert.Equal("criu check failed (CRIU 3.17.1, kernel 5.10): Error (criu/cr-check.c:1): something else", other);
    }

    [ContainerFact]
    public void The_upper_layer_comes_back_with_its_whiteouts_opaque_folders_modes_and_links()
    {
        string lower = Path.Combine(_host.Home, "lower");
        Directory.CreateDirectory(Path.Combine(lower, "dir"));
        File.WriteAllText(Path.Combine(lower, "keep.txt"), "kept");
        File.WriteAllText(Path.Combine(lower, "gone.txt"), "deleted in the container");
        File.WriteAllText(Path.Combine(lower, "dir", "old.txt"), "hidden by an opaque folder");
        string machine = Path.Combine(_host.Home, "upper-machine");
        var rootfs = new OverlayRootfs(lower, machine);
        rootfs.Mount();
        try
        {
            File.Delete(Path.Combine(rootfs.Merged, "gone.txt"));                  // a whiteout
            Directory.Delete(Path.Combine(rootfs.Merged, "dir"), recursive: true);  // then made again: opaque
            Directory.CreateDirectory(Path.Combine(rootfs.Merged, "dir"));
            File.WriteAllText(Path.Combine(rootfs.Merged, "dir", "new.txt"), "new");
            File.WriteAllText(Path.Combine(rootfs.Merged, "secret"), "mode 0640");
            File.SetUnixFileMode(Path.Combine(rootfs.Merged, "secret"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            File.CreateSymbolicLink(Path.Combine(rootfs.Merged, "link"), "keep.txt");
        }
        finally
        {
            OverlayRootfs.Unmount(machine);
        }
        string archive = Path.Combine(_host.Home, "upper.tar");
        UpperLayer.Capture(rootfs.Upper, archive);
        // What the machine wrote after the checkpoint must not survive the restore.
        File.WriteAllText(Path.Combine(rootfs.Upper, "later.txt"), "written after the checkpoint");
        File.WriteAllText(Path.Combine(rootfs.Work, "stale"), "");

        UpperLayer.Restore(archive, rootfs.Upper, rootfs.Work);

        Assert.Empty(Directory.EnumerateFileSystemEntries(rootfs.Work));
        rootfs.Mount();
        try
        {
            var merged = rootfs.Merged;
            Assert.Equal("kept", File.ReadAllText(Path.Combine(merged, "keep.txt")));
            Assert.False(File.Exists(Path.Combine(merged, "gone.txt")));
            Assert.Equal(["new.txt"], Directory.EnumerateFileSystemEntries(Path.Combine(merged, "dir")).Select(Path.GetFileName));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(Path.Combine(merged, "secret")));
            Assert.Equal("keep.txt", new FileInfo(Path.Combine(merged, "link")).LinkTarget);
            Assert.False(File.Exists(Path.Combine(merged, "later.txt")));
        }
        finally
        {
            OverlayRootfs.Unmount(machine);
        }
    }

    /// <summary>
    /// A checkpoint folder as the writer leaves it, for the checks a restore makes before CRIU is asked anything: the
    /// images are stand-ins (CRIU does not work on every host), the rest is real.
    /// </summary>
    private string FakeCheckpoint(MachineSpec spec, string name)
    {
        var settings = ContainerSettingsReader.Read(spec);
        var placement = _host.Containers.Place(spec.Name);
        string folder = CheckpointPath(name);
        Directory.CreateDirectory(Path.Combine(folder, ContainerCheckpoint.ImagesFolder));
        File.WriteAllBytes(Path.Combine(folder, ContainerCheckpoint.ImagesFolder, "inventory.img"), [0x54, 0x56, 0x41, 0x58, 1, 2, 3, 4]);
        File.WriteAllText(Path.Combine(folder, ContainerCheckpoint.ImagesFolder, "descriptors.json"), """["pipe:[1]","pipe:[2]","pipe:[3]"]""");
        File.WriteAllText(Path.Combine(folder, ContainerCheckpoint.ConfigFile),
            OciBundle.Render(settings, placement.Rootfs, placement.DevDirectory, placement.CgroupsPath));
        string upper = Path.Combine(_host.Home, $"{name}-upper");
        Directory.CreateDirectory(upper);
        File.WriteAllText(Path.Combine(upper, "from-checkpoint"), "checkpointed");
        UpperLayer.Capture(upper, Path.Combine(folder, ContainerCheckpoint.UpperArchive));
        ContainerCheckpoint.Seal(folder, new CheckpointManifest
        {
            Model = "container", Machine = spec.Name, Created = DateTime.UtcNow, LowerImage = _host.Containers.Images.Resolve(settings.Rootfs),
        });
        return folder;
    }

    /// <summary>The machine folder as a stopped machine leaves it: an upper layer with a file, nothing mounted.</summary>
    private string StoppedMachineWithFile(string name)
    {
        string upper = Path.Combine(_host.Containers.Place(name).MachineDirectory, "overlay", "upper");
        Directory.CreateDirectory(upper);
        File.WriteAllText(Path.Combine(upper, "mine"), "the machine's own");
        return upper;
    }

    private void AssertRefusedAndUnchanged(MachineSpec spec, string checkpoint, string expected)
    {
        string upper = StoppedMachineWithFile(spec.Name);
        var e = Assert.ThrowsAny<Exception>(() => _host.Model.Restore(spec, new MachineServices(new ConsoleChannel(null), _ => { }, _ => { }), checkpoint));
        Assert.True(e is CheckpointException or MachineStateException, e.ToString());
        Assert.Contains(expected, e.Message);
        Assert.Equal("the machine's own", File.ReadAllText(Path.Combine(upper, "mine")));
        Assert.Equal(["mine"], Directory.EnumerateFileSystemEntries(upper).Select(Path.GetFileName));
        Assert.Empty(_host.Containers.FindLeftovers(spec.Name));
    }

    [ContainerFact]
    public void A_folder_that_is_not_a_checkpoint_is_refused()
    {
        var spec = _host.Spec("foreign", ["/bin/sh", "-c", Counter]);
        string folder = CheckpointPath("foreign");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not a checkpoint");
        AssertRefusedAndUnchanged(spec, folder, $"checkpoint '{folder}': not a VirtShell container checkpoint (it has no checkpoint.json)");
        AssertRefusedAndUnchanged(spec, CheckpointPath("missing"), "no such folder");
        File.WriteAllText(Path.Combine(folder, ContainerCheckpoint.ManifestFile), "{ \"format\": ");
        AssertRefusedAndUnchanged(spec, folder, "checkpoint.json is damaged");
        File.WriteAllText(Path.Combine(folder, ContainerCheckpoint.ManifestFile), """{ "format": "something-else", "version": 1 }""");
        AssertRefusedAndUnchanged(spec, folder, "not a VirtShell container checkpoint (checkpoint.json is not of format 'virtshell-container-checkpoint')");
    }

    [ContainerFact]
    public void A_truncated_image_is_refused()
    {
        var spec = _host.Spec("truncated", ["/bin/sh", "-c", Counter]);
        string folder = FakeCheckpoint(spec, "truncated");
        string image = Path.Combine(folder, "criu", "inventory.img");
        using (var file = File.OpenWrite(image)) file.SetLength(3);
        AssertRefusedAndUnchanged(spec, folder, "criu/inventory.img is truncated (3 of 8 bytes)");
    }

    [ContainerFact]
    public void A_corrupt_upper_layer_is_refused()
    {
        var spec = _host.Spec("corrupt", ["/bin/sh", "-c", Counter]);
        string folder = FakeCheckpoint(spec, "corrupt");
        string archive = Path.Combine(folder, ContainerCheckpoint.UpperArchive);
        var bytes = File.ReadAllBytes(archive);
        bytes[600] ^= 0x20; // inside the first file's data block
        File.WriteAllBytes(archive, bytes);
        AssertRefusedAndUnchanged(spec, folder, "upper.tar is corrupt (its SHA-256 does not match)");
    }

    [ContainerFact]
    public void A_newer_format_another_model_or_a_missing_part_is_refused()
    {
        var spec = _host.Spec("versions", ["/bin/sh", "-c", Counter]);
        string folder = FakeCheckpoint(spec, "versions");
        string manifestPath = Path.Combine(folder, ContainerCheckpoint.ManifestFile);
        string original = File.ReadAllText(manifestPath);
        void Edit(Action<JsonObject> change)
        {
            var manifest = JsonNode.Parse(original)!.AsObject();
            change(manifest);
            File.WriteAllText(manifestPath, manifest.ToJsonString());
        }

        Edit(m => m["version"] = 2);
        AssertRefusedAndUnchanged(spec, folder, "checkpoint format version 2 is newer than this VirtShell reads (up to 1)");
        Edit(m => m["model"] = "emulated");
        AssertRefusedAndUnchanged(spec, folder, "it is a checkpoint of a 'emulated' machine, not of a container");
        Edit(m => m["files"] = new JsonArray(m["files"]!.AsArray().Where(f => f!["path"]!.GetValue<string>() != "upper.tar").Select(f => f!.DeepClone()).ToArray()));
        AssertRefusedAndUnchanged(spec, folder, "checkpoint.json does not list upper.tar, which a restore needs");
        Edit(m => m["files"]!.AsArray().Add(new JsonObject { ["path"] = "../outside", ["size"] = 1, ["sha256"] = "00" }));
        AssertRefusedAndUnchanged(spec, folder, "lists a file outside the checkpoint ('../outside')");
    }

    [ContainerFact]
    public void A_checkpoint_of_another_machine_or_definition_is_refused()
    {
        var spec = _host.Spec("mine", ["/bin/sh", "-c", Counter]);
        string folder = FakeCheckpoint(spec, "mine");
        var other = _host.Spec("other", ["/bin/sh", "-c", Counter]);
        AssertRefusedAndUnchanged(other, folder, "it is a checkpoint of machine 'mine', not of 'other'");
        var changed = _host.Spec("mine", ["/bin/sh", "-c", "sleep 100"]);
        AssertRefusedAndUnchanged(changed, folder, "it was made with another definition");
    }

    [CriuUnavailableFact]
    public void A_sound_checkpoint_is_refused_with_the_reason_where_CRIU_cannot_run()
    {
        var spec = _host.Spec("sound", ["/bin/sh", "-c", Counter]);
        string folder = FakeCheckpoint(spec, "sound");
        AssertRefusedAndUnchanged(spec, folder, $"checkpoint '{folder}' cannot be restored here: {CriuCheck.UnavailableReason(CriuCheck.Find())}");
    }

    [ContainerFact]
    public void A_restore_over_a_running_container_is_refused_and_the_container_runs_on()
    {
        var spec = _host.Spec("busy", ["/bin/sh", "-c", Counter]);
        string folder = FakeCheckpoint(spec, "busy");
        var run = Start(spec);
        Assert.True(run.WaitFor(text => LastCount(text) >= 2), run.Text());

        var e = Assert.Throws<MachineStateException>(() => _host.Model.Restore(spec, new MachineServices(new ConsoleChannel(null), _ => { }, _ => { }), folder));

        Assert.Equal("container 'busy' is running: stop it before restoring a checkpoint over it", e.Message);
        int at = LastCount(run.Text());
        Assert.True(run.WaitFor(text => LastCount(text) > at + 1), "the container stopped counting after a refused restore");
        Assert.Equal("written\n", Encoding.UTF8.GetString(run.Runtime.Files.ReadFile("/before")));
    }

    private static IEnumerable<int> Counts(string text) =>
        text.Split('\n').Where(l => l.StartsWith("count ", StringComparison.Ordinal) && int.TryParse(l[6..], out _)).Select(l => int.Parse(l[6..]));

    private static int LastCount(string text) => Counts(text).LastOrDefault();
    private static int FirstCount(string text) => Counts(text).FirstOrDefault();

    /// <summary>
    /// A container runtime run by the test on a thread of its own, as Machine runs one: the checkpoint API is the
    /// runtime's, and no cmdlet or Machine call reaches it yet.
    /// </summary>
    private sealed class DirectRun : IDisposable
    {
        private readonly ConsoleChannel _console = new(null);
        private readonly Thread _thread;
        private MachineExit? _exit;
        private bool _disposed;

        public DirectRun(Func<MachineServices, ContainerRuntime> create)
        {
            Runtime = create(new MachineServices(_console, exit => Runtime?.RequestStop(exit), _ => { }));
            _thread = new Thread(() => _exit = Runtime.Run()) { IsBackground = true, Name = "checkpoint-test" };
            _thread.Start();
        }

        public ContainerRuntime Runtime { get; }

        public string Text()
        {
            long offset = 0;
            return Encoding.UTF8.GetString(_console.ReadFrom(ref offset));
        }

        public bool WaitFor(Func<string, bool> condition)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (DateTime.UtcNow < deadline)
            {
                if (condition(Text())) return true;
                Thread.Sleep(50);
            }
            return false;
        }

        public MachineExit WaitForExit()
        {
            Assert.True(_thread.Join(TimeSpan.FromSeconds(30)), "the container's run did not end");
            return _exit!;
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            Runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser));
            _thread.Join(TimeSpan.FromSeconds(30));
            Runtime.Dispose();
            _console.Dispose();
        }
    }
}
