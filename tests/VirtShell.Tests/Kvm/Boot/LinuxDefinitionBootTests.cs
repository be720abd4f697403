using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Models;
using Xunit.Abstractions;

namespace VirtShell.Tests.Kvm.Boot;

/// <summary>
/// machine-defs/linux-hardware.js and linux-paravirtual.js boot Debian's kernel to a busybox shell, and their hook types
/// <c>uname -a</c>. Ring-0 code is emulated on these hosts, so a boot takes many minutes: these run only with
/// VIRTSHELL_LINUX=1, for at most VIRTSHELL_LINUX_MINUTES (60), and need the files scripts/linux/ makes (see the
/// definitions). The console, time-stamped, goes to virtshell-&lt;machine&gt;.log in the temp folder as it comes, and
/// the test's output gives the time to each milestone.
/// </summary>
[Collection(KvmCollection.Name)]
public class LinuxDefinitionBootTests(ITestOutputHelper output)
{
    public sealed class LinuxBootFactAttribute : FactAttribute
    {
        public LinuxBootFactAttribute()
        {
            if (Environment.GetEnvironmentVariable("VIRTSHELL_LINUX") != "1")
                Skip = "a long test (a Linux boot takes many minutes with ring 0 emulated): set VIRTSHELL_LINUX=1 to run it";
            else if (new KvmFactAttribute().Skip is { } reason) Skip = reason;
        }
    }

    /// <summary>What the console shows, in order, on the way to the shell.</summary>
    private static readonly (string Name, Regex Pattern)[] Milestones =
    [
        ("first kernel line", new Regex(@"Linux version \d")),
        ("init starts", new Regex(@"Run /init as init process")),
        ("init mounted /proc /sys /dev", new Regex(@"^virtshell-init: mounted")),
        ("shell on the console", new Regex(@"^virtshell-init: shell on")),
        ("uname -a output", new Regex(@"^Linux \S+ \d+\.\d+\.\d+\S* .*x86_64")),
    ];

    [LinuxBootFact]
    public void Linux_boots_on_the_hardware_model_to_a_shell_that_answers_uname() => Boot("linux-hardware.js", "out/linux/initramfs.cpio.gz");

    [LinuxBootFact]
    public void Linux_boots_on_the_paravirtual_model_with_a_virtio_console_to_a_shell_that_answers_uname() =>
        Boot("linux-paravirtual.js", "out/linux/initramfs-virtio.cpio.gz");

    private void Boot(string definition, string initramfs)
    {
        foreach (var file in new[] { "out/linux/vmlinux", initramfs })
            if (!File.Exists(Path.Combine(RepoPaths.Root, file)))
                throw new InvalidOperationException($"{file} is missing: make it with scripts/linux/Get-DebianKernel.ps1 and New-BusyboxInitramfs.ps1 (see machine-defs/{definition})");
        var minutes = double.Parse(Environment.GetEnvironmentVariable("VIRTSHELL_LINUX_MINUTES") ?? "60");

        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        var host = new VirtualizationHost(store, ModelCatalog.CreateRegistry(store.Home), new JsDefinitionLoader());
        var vm = host.Create(RepoPaths.MachineDef(definition));
        var logs = new List<string>();
        vm.Logged += (_, message) => { lock (logs) logs.Add(message); };
        string transcriptPath = Path.Combine(Path.GetTempPath(), $"virtshell-{vm.Name}.log");
        File.WriteAllText(transcriptPath, "");

        var watch = Stopwatch.StartNew();
        vm.Start();
        var reached = new List<(string Name, TimeSpan At)>();
        var pending = new StringBuilder();
        long offset = 0;
        int next = 0;
        try
        {
            while (next < Milestones.Length && watch.Elapsed < TimeSpan.FromMinutes(minutes)
                   && vm.State is MachineState.Running or MachineState.Starting)
            {
                vm.Console!.WaitForOutput(offset, TimeSpan.FromSeconds(1));
                pending.Append(Encoding.UTF8.GetString(vm.Console.ReadFrom(ref offset)));
                int newline;
                while ((newline = pending.ToString().IndexOf('\n')) >= 0)
                {
                    string line = pending.ToString(0, newline).TrimEnd('\r');
                    pending.Remove(0, newline + 1);
                    File.AppendAllText(transcriptPath, $"[{watch.Elapsed.TotalSeconds,7:F1} s] {line}\n");
                    // Milestones come in order; a later one may stand in for an earlier one whose line was lost.
                    for (int i = next; i < Milestones.Length; i++)
                    {
                        if (!Milestones[i].Pattern.IsMatch(line)) continue;
                        for (; next <= i; next++) reached.Add((Milestones[next].Name, watch.Elapsed));
                        break;
                    }
                }
            }
        }
        finally
        {
            // The hook sees the uname line on its own thread, after us.
            for (var until = watch.Elapsed + TimeSpan.FromSeconds(10); next == Milestones.Length && !HookSawUname(logs) && watch.Elapsed < until;)
                Thread.Sleep(100);
            string state = vm.State.ToString();
            var regs = vm.State == MachineState.Running ? "" : vm.LastExit?.ToString() ?? "";
            vm.Stop(turnOff: true, TimeSpan.FromSeconds(30));
            foreach (var (name, at) in reached) output.WriteLine($"{at.TotalSeconds,8:F1} s  {name}");
            output.WriteLine($"after {watch.Elapsed.TotalSeconds:F1} s the machine was {state} {regs}; console in {transcriptPath}");
            lock (logs) foreach (var message in logs) output.WriteLine($"log: {message}");
            File.AppendAllText(transcriptPath, $"after {watch.Elapsed}: {state} {regs}\n");
        }

        Assert.True(next == Milestones.Length,
            $"{definition}: reached {(next == 0 ? "nothing" : Milestones[next - 1].Name)} in {watch.Elapsed}; next was {Milestones[Math.Min(next, Milestones.Length - 1)].Name}. Console in {transcriptPath}");
        Assert.True(HookSawUname(logs), "the console showed uname's output, but the definition's hook did not log it");
    }

    private static bool HookSawUname(List<string> logs)
    {
        lock (logs) return logs.Any(l => l.StartsWith("uname: Linux"));
    }
}
