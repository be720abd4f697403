using VirtShell.Engine.State;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.State;

/// <summary>A paused machine's writable disk images are captured beside its state, by reflink where possible.</summary>
public class DiskCaptureTests
{
    [Fact]
    public void A_paused_machine_captures_its_writable_disk_and_says_how()
    {
        string definition = SavedStateRig.Definition(SavedStateGuestTests.CountingGuest,
            extraDevices: "ataDisk({ image: './disk.img' })");
        string dir = Path.GetDirectoryName(definition)!;
        string image = Path.Combine(dir, "disk.img");
        byte[] contents = [.. Enumerable.Range(0, 1 << 20).Select(i => (byte)(i * 7))];
        File.WriteAllBytes(image, contents);
        using var loaded = TestDefinitions.Loader().Load(definition);
        using var machine = SavedStateRig.Boot(loaded);
        machine.WaitFor(text => text.Contains("1\n"), "a line");
        machine.Runtime.Pause();
        string checkpoint = Directory.CreateDirectory(Path.Combine(dir, "checkpoint")).FullName;

        var disk = Assert.Single(machine.Runtime.CaptureDisks(checkpoint));
        Assert.Equal(image, disk.Image);
        Assert.Equal(contents, File.ReadAllBytes(disk.Copy)); // the image itself is flocked by the running disk
        Assert.Equal(Reflinks(dir) ? DiskCaptureMethod.Reflink : DiskCaptureMethod.Copy, disk.Method);
    }

    [Fact]
    public void A_running_machine_refuses_to_capture_or_save()
    {
        using var loaded = TestDefinitions.Loader().Load(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest));
        using var machine = SavedStateRig.Boot(loaded);
        machine.WaitFor(text => text.Contains("1\n"), "a line");
        Assert.Contains("paused", Assert.Throws<InvalidOperationException>(() => machine.Runtime.SaveState(new MemoryStream())).Message);
        Assert.Contains("paused", Assert.Throws<InvalidOperationException>(() => machine.Runtime.CaptureDisks(Path.GetTempPath())).Message);
    }

    /// <summary>Whether the file system under <paramref name="dir"/> shares extents, asked of cp as a second opinion.</summary>
    private static bool Reflinks(string dir)
    {
        string probe = Path.Combine(dir, "probe"), clone = Path.Combine(dir, "probe-clone");
        File.WriteAllText(probe, "x");
        using var cp = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("cp", ["--reflink=always", probe, clone])
            { RedirectStandardError = true })!;
        cp.WaitForExit();
        return cp.ExitCode == 0;
    }
}
