using System.Text;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Models.Emulated;

namespace VirtShell.Conformance;

/// <summary>One conformance program's run: its PASS and FAIL lines, and whether it reached DONE.</summary>
public sealed record RiscvProgramResult(string Name, IReadOnlyList<string> Passed, IReadOnlyList<string> Failed, bool Finished, string Console);

/// <summary>
/// The RISC-V conformance programs (tests/riscv-arch, built by scripts/build-riscv-tests.ps1): each boots as firmware
/// on the riscv64 virt board of the emulated model and prints a PASS or FAIL line per case, then DONE. A program that
/// does not finish counts as one more failure.
/// </summary>
public static class RiscvArchTests
{
    public static RiscvProgramResult Run(string image, TimeSpan limit)
    {
        using var console = new ConsoleChannel(null);
        IMachineRuntime? runtime = null;
        var spec = new MachineSpec
        {
            Name = "riscv-" + Path.GetFileNameWithoutExtension(image),
            Model = "emulated",
            Arch = "riscv64",
            MemoryBytes = 64 << 20,
            Devices = [new DeviceSpec { Type = "uart16550", Settings = new Dictionary<string, object?> { ["address"] = 0x10000000L, ["irq"] = 10L } }],
            Boot = new BootSpec { Kind = BootKind.Firmware, Image = Path.GetFullPath(image) },
        };
        using (runtime = new EmulatedModel().CreateRuntime(spec, new MachineServices(console, e => runtime?.RequestStop(e), _ => { })))
        {
            var thread = new Thread(() => runtime.Run()) { IsBackground = true };
            thread.Start();
            if (!thread.Join(limit))
            {
                runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser, Detail: "time limit"));
                thread.Join();
            }
        }
        long offset = 0;
        string text = Encoding.ASCII.GetString(console.ReadFrom(ref offset));
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new RiscvProgramResult(Path.GetFileNameWithoutExtension(image),
            lines.Where(l => l.StartsWith("PASS ")).Select(l => l[5..]).ToList(),
            lines.Where(l => l.StartsWith("FAIL ")).Select(l => l[5..]).ToList(),
            lines.Contains("DONE"), text);
    }

    /// <summary>Runs every image in <paramref name="directory"/>; prints "riscv-tests: P passed, F failed" and writes the cases to <paramref name="outDir"/>.</summary>
    public static bool RunAll(string directory, string outDir)
    {
        var results = Directory.GetFiles(directory, "*.bin").Order().Select(f => Run(f, TimeSpan.FromSeconds(60))).ToList();
        int passed = results.Sum(r => r.Passed.Count);
        int failed = results.Sum(r => r.Failed.Count + (r.Finished ? 0 : 1));
        string line = $"riscv-tests: {passed} passed, {failed} failed";
        Console.WriteLine(line);
        using var w = new StreamWriter(Path.Combine(outDir, "riscv-tests.txt"));
        w.WriteLine("# " + line + " (our own programs from the ISA manual, tests/riscv-arch: riscv-tests cannot be fetched here)");
        foreach (var r in results)
        {
            w.WriteLine($"{r.Name}: {r.Passed.Count} passed, {r.Failed.Count} failed{(r.Finished ? "" : ", did not finish")}");
            foreach (var f in r.Failed) w.WriteLine($"  FAIL {f}");
            if (!r.Finished) Console.WriteLine($"  {r.Name} did not finish; its console ends:\n{r.Console[Math.Max(0, r.Console.Length - 2000)..]}");
        }
        foreach (var r in results)
            foreach (var f in r.Failed) Console.WriteLine($"  {r.Name}: FAIL {f}");
        return failed == 0;
    }
}
