using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using Xunit.Abstractions;

namespace VirtShell.Tests.Models;

/// <summary>
/// The emulated Linux boots run alone: each keeps a core busy for a minute, and beside them tests that give a script
/// hook a few hundred milliseconds miss their deadlines.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EmulatedLinuxCollection
{
    public const string Name = "emulated Linux";
}

/// <summary>
/// Boots one of the machine-defs/linux-*.js definitions to its busybox shell, whose hook types <c>uname -a</c>, and
/// asserts each milestone on the way and the hook's "uname:" log line. The console, time-stamped, goes to
/// virtshell-&lt;machine&gt;.log in the temp folder as it comes, and the test's output gives the time to each milestone.
/// </summary>
internal static class LinuxGuestBoot
{
    /// <summary>What the console shows, in order, on the way to the shell; the last is uname's answer for <paramref name="machine"/>.</summary>
    private static (string Name, Regex Pattern)[] Milestones(string machine) =>
    [
        ("first kernel line", new Regex(@"Linux version \d")),
        ("init starts", new Regex(@"Run /init as init process")),
        ("init mounted /proc /sys /dev", new Regex(@"^virtshell-init: mounted")),
        ("shell on the console", new Regex(@"^virtshell-init: shell on")),
        ("uname -a output", new Regex($@"^Linux \S+ \d+\.\d+\.\d+\S* .*{machine}")),
    ];

    /// <summary>Boots <paramref name="definition"/> and asserts the shell answered; <paramref name="machine"/> is a pattern for uname's machine field.</summary>
    /// <param name="kernelLines">Lines the kernel must print on the way, in any order: what it found of the machine.</param>
    public static void BootToUname(string definition, string machine, TimeSpan limit, ITestOutputHelper output,
        IReadOnlyList<(string Name, Regex Pattern)>? kernelLines = null)
    {
        var unseen = (kernelLines ?? []).ToList();
        var milestones = Milestones(machine);
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        var host = TestDefinitions.Host(store);
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
            // A hook may stop the machine once it has its answer: the console is read to its end all the same.
            bool ended = false;
            while (next < milestones.Length && watch.Elapsed < limit && !ended)
            {
                ended = vm.State is not (MachineState.Running or MachineState.Starting);
                vm.Console!.WaitForOutput(offset, TimeSpan.FromSeconds(1));
                pending.Append(Encoding.UTF8.GetString(vm.Console.ReadFrom(ref offset)));
                int newline;
                while ((newline = pending.ToString().IndexOf('\n')) >= 0)
                {
                    string line = pending.ToString(0, newline).TrimEnd('\r');
                    pending.Remove(0, newline + 1);
                    File.AppendAllText(transcriptPath, $"[{watch.Elapsed.TotalSeconds,7:F1} s] {line}\n");
                    unseen.RemoveAll(k => k.Pattern.IsMatch(line));
                    // Milestones come in order; a later one may stand in for an earlier one whose line was lost.
                    for (int i = next; i < milestones.Length; i++)
                    {
                        if (!milestones[i].Pattern.IsMatch(line)) continue;
                        for (; next <= i; next++) reached.Add((milestones[next].Name, watch.Elapsed));
                        break;
                    }
                }
            }
        }
        finally
        {
            // The hook sees the uname line on its own thread, after us.
            for (var until = watch.Elapsed + TimeSpan.FromSeconds(10); next == milestones.Length && !HookSawUname(logs) && watch.Elapsed < until;)
                Thread.Sleep(100);
            string state = vm.State.ToString();
            var regs = vm.State == MachineState.Running ? "" : vm.LastExit?.ToString() ?? "";
            // A hook that stopped the machine may still be tearing it down: let that finish rather than stop it twice.
            if (vm.State == MachineState.Stopping) vm.WaitFor([MachineState.Stopped, MachineState.Crashed], TimeSpan.FromSeconds(30));
            else vm.Stop(turnOff: true, TimeSpan.FromSeconds(30));
            foreach (var (name, at) in reached) output.WriteLine($"{at.TotalSeconds,8:F1} s  {name}");
            output.WriteLine($"after {watch.Elapsed.TotalSeconds:F1} s the machine was {state} {regs}; console in {transcriptPath}");
            lock (logs) foreach (var message in logs) output.WriteLine($"log: {message}");
            File.AppendAllText(transcriptPath, $"after {watch.Elapsed}: {state} {regs}\n");
        }

        Assert.True(next == milestones.Length,
            $"{definition}: reached {(next == 0 ? "nothing" : milestones[next - 1].Name)} in {watch.Elapsed}; next was {milestones[Math.Min(next, milestones.Length - 1)].Name}. Console in {transcriptPath}");
        Assert.True(HookSawUname(logs), "the console showed uname's output, but the definition's hook did not log it");
        Assert.True(unseen.Count == 0, $"the kernel never printed: {string.Join("; ", unseen.Select(k => k.Name))}. Console in {transcriptPath}");
    }

    private static bool HookSawUname(List<string> logs)
    {
        lock (logs) return logs.Any(l => l.StartsWith("uname: Linux"));
    }
}
