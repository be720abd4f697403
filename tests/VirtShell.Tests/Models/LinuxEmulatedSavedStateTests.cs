using System.Diagnostics;
using System.Text.RegularExpressions;
using VirtShell.Engine.State;
using VirtShell.Tests.State;
using Xunit.Abstractions;

namespace VirtShell.Tests.Models;

/// <summary>
/// machine-defs/linux-emulated.js's guest saved at its busybox shell and restored in a fresh runtime, which answers
/// <c>uname -a</c>: the kernel's timers, console and scheduler all go on from the saved state. Same files, collection
/// and skip rule as <see cref="LinuxEmulatedAmd64BootTests"/>.
/// </summary>
[Collection(EmulatedLinuxCollection.Name)]
public class LinuxEmulatedSavedStateTests(ITestOutputHelper output)
{
    [LinuxEmulatedAmd64BootTests.Amd64GuestFact]
    public void Debian_amd64_saved_at_its_shell_answers_uname_in_a_restored_runtime()
    {
        // The definition without its hooks, which would type at the shell before the save: this test types itself.
        string dir = Directory.CreateTempSubdirectory("virtshell-linux-state-").FullName;
        string definition = Path.Combine(dir, "linux.js");
        File.WriteAllText(definition, $$"""
            import { machine, uart16550 } from 'virtshell';
            export default machine({
              name: 'linux-saved', model: 'emulated', memory: '256M',
              devices: [ uart16550({ port: 0x3f8, irq: 4, console: true }) ],
              boot: {
                type: 'linux', mode: 'long',
                image: '{{Path.Combine(RepoPaths.Root, LinuxEmulatedAmd64BootTests.Kernel)}}',
                initrd: '{{Path.Combine(RepoPaths.Root, LinuxEmulatedAmd64BootTests.Initramfs)}}',
                cmdline: 'console=ttyS0 earlyprintk=serial,ttyS0 noapic nolapic acpi=off panic=-1 rdinit=/init',
              },
            });
            """);
        using var loaded = TestDefinitions.Loader().Load(definition);
        var watch = Stopwatch.StartNew();
        string statePath = Path.Combine(dir, "linux.vsstate");
        using (var first = SavedStateRig.Boot(loaded, TimeSpan.FromMinutes(10)))
        {
            first.WaitFor(text => text.Contains("virtshell-init: shell on"), "the shell");
            // The shell prints its prompt after /init's line; a moment lets it reach its read.
            Thread.Sleep(2000);
            output.WriteLine($"{watch.Elapsed.TotalSeconds,6:F1} s  shell up, saving");
            first.Runtime.Pause();
            var save = Stopwatch.StartNew();
            using (var file = File.Create(statePath)) first.Runtime.SaveState(file);
            output.WriteLine($"saved in {save.Elapsed.TotalMilliseconds:F0} ms, {new FileInfo(statePath).Length >> 10} KiB "
                + $"for {first.Runtime.Memory.ResidentBytes() >> 20} MiB resident");
        }

        var restore = Stopwatch.StartNew();
        using var second = SavedStateRig.Restore(loaded, SavedState.Load(statePath), TimeSpan.FromMinutes(2));
        output.WriteLine($"restored in {restore.Elapsed.TotalMilliseconds:F0} ms");
        Assert.DoesNotContain("Linux version", second.Output());
        second.Console.SendInput("uname -a\n");
        string answer = second.WaitFor(text => Regex.IsMatch(text, @"(?m)^Linux \S+ \d+\.\d+\.\d+\S* .*x86_64"), "uname's answer");
        output.WriteLine(answer);
    }
}
