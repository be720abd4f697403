using VirtShell.Cpu.Interpreter;
using System.Text;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Models.Emulated;

namespace VirtShell.Conformance;

/// <summary>One entry of unittests.cfg: its name, its binary, its arguments and what it asks of the machine.</summary>
public sealed record KvmUnitTest(string Name, string File, string? Arguments, string? QemuParams, int Smp, string? Accel, string? Groups, string? Arch, int? TimeoutSeconds)
{
    /// <summary>Why a single-CPU emulated PC cannot run the test, or null when it can.</summary>
    public string? OutOfScope =>
        Accel == "kvm" ? "accel = kvm" :
        Smp > 1 ? $"smp = {Smp}" :
        Groups?.Split(' ').Contains("hyperv") == true ? "Hyper-V enlightenments (KVM only)" :
        QemuParams?.Contains("-cpu host") == true ? "-cpu host (KVM only)" :
        null;
}

/// <summary>How one test ended: passed, failed (with why), or skipped (by the test or as out of scope).</summary>
public sealed record KvmUnitTestResult(KvmUnitTest Test, string Outcome, string Detail, TimeSpan Elapsed);

/// <summary>
/// Runs the kvm-unit-tests i386 binaries as the suite's x86/run does under QEMU: each .flat is a Multiboot kernel on
/// a 128 MiB PC with COM1 and isa-debug-exit at 0xF4 (size 4), given its arguments on the command line and the
/// "environ" as its one module; the status it writes to the exit port is (v &lt;&lt; 1) | 1.
/// </summary>
public static class KvmUnitTests
{
    public const ushort ExitPort = 0xF4;
    public const ulong MemoryMiB = 128;
    public const string Environ = "NR_CPUS=1\nMEMSIZE=128\nTEST_DEVICE=0\n";

    /// <summary>
    /// Entries QEMU TCG fails as well (docs/conformance.md has the measurement), with why. The issue puts them out of
    /// scope: they are still run and counted as failed, but do not make the Conformance task fail.
    /// </summary>
    public static IReadOnlyDictionary<string, string> QemuTcgFailsToo { get; } = new Dictionary<string, string>
    {
        ["vmexit_vmcall"] = "VMCALL is #UD without VMX",
        ["hypercall"] = "VMMCALL is #UD without SVM",
        ["msr"] = "IA32_PAT is not claimed; QEMU TCG fails on 64-bit MSRs",
        ["s3"] = "needs ACPI tables with a FACS",
    };

    public static string? FindDataDirectory(string? explicitDir = null) =>
        TestData.Find(explicitDir, "VIRTSHELL_KVM_UNIT_TESTS_DIR", Path.Combine("kvm-unit-tests", "i386"), "unittests.cfg");

    /// <summary>The entries of unittests.cfg whose binary is in the folder and that are not x86_64-only.</summary>
    public static IReadOnlyList<KvmUnitTest> ReadConfig(string dataDir)
    {
        var tests = new List<KvmUnitTest>();
        Dictionary<string, string>? current = null;
        string? name = null;
        void Flush()
        {
            if (name == null || current == null || !current.TryGetValue("file", out var file)) return;
            current.TryGetValue("arch", out var arch);
            if (arch == "x86_64" || !File.Exists(Path.Combine(dataDir, file))) return;
            string? Get(string key) => current.TryGetValue(key, out var v) ? v.Trim('\'', '"') : null;
            tests.Add(new KvmUnitTest(name, file, Get("test_args"), Get("qemu_params"),
                int.TryParse(Get("smp"), out var smp) ? smp : 1, Get("accel"), Get("groups"), arch,
                int.TryParse(Get("timeout"), out var t) ? t : null));
        }
        foreach (var raw in File.ReadLines(Path.Combine(dataDir, "unittests.cfg")))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                Flush();
                name = line[1..^1];
                current = new Dictionary<string, string>();
            }
            else if (current != null && line.IndexOf('=') is var eq and > 0)
                current[line[..eq].Trim()] = line[(eq + 1)..].Trim();
        }
        Flush();
        return tests;
    }

    /// <summary>The machine the suite's runner gives a test: what <c>machine-defs/lib/kvm-unit-test.js</c> builds too.</summary>
    public static MachineSpec MachineFor(string dataDir, KvmUnitTest test, string environPath) => new()
    {
        Name = "kvm-unit-tests-" + test.Name,
        Model = "emulated",
        MemoryBytes = MemoryMiB << 20,
        Devices =
        [
            new DeviceSpec { Type = "uart16550", Settings = new Dictionary<string, object?> { ["port"] = 0x3F8L, ["irq"] = 4L } },
            new DeviceSpec { Type = "debugExit", Settings = new Dictionary<string, object?> { ["port"] = (long)ExitPort, ["size"] = 4L } },
            new DeviceSpec { Type = "pcTestdev" },
            new DeviceSpec
            {
                Type = "scriptDevice",
                Settings = new Dictionary<string, object?> { ["mmio"] = new List<object?> { new Dictionary<string, object?> { ["start"] = (long)IoRam.Base, ["length"] = (long)IoRam.Length } } },
                Implementation = new IoRam(),
            },
        ],
        Boot = new BootSpec
        {
            Kind = BootKind.Multiboot,
            Image = Path.Combine(dataDir, test.File),
            CommandLine = test.Arguments is { Length: > 0 } a ? $"{test.File} {a}" : test.File,
            Modules = [new BootModule { Path = environPath }],
        },
    };

    public static KvmUnitTestResult Run(string dataDir, KvmUnitTest test, TimeSpan defaultLimit, TextWriter? log = null,
        TierRun? tier = null)
    {
        if (test.OutOfScope is { } reason) return new KvmUnitTestResult(test, "skipped", "out of scope: " + reason, TimeSpan.Zero);
        var limit = test.TimeoutSeconds is { } s ? TimeSpan.FromSeconds(Math.Max(s, defaultLimit.TotalSeconds)) : defaultLimit;
        var environ = Path.GetTempFileName();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            File.WriteAllText(environ, Environ);
            var spec = MachineFor(dataDir, test, environ) with { Sections = (tier ?? TierRun.Interpreter).Section() };
            var model = new EmulatedModel();
            using var console = new ConsoleChannel(null);
            var output = new StringBuilder();
            console.LineReceived += line => { lock (output) output.Append(line).Append('\n'); };
            MachineExit? exit = null;
            IMachineRuntime? running = null;
            try
            {
                model.Validate(spec);
                // The debug exit powers off: it ends the run, as the machine host does for a definition.
                using var runtime = model.CreateRuntime(spec, new MachineServices(console, e => { exit ??= e; running?.RequestStop(e); }, _ => { }));
                running = runtime;
                var thread = new Thread(() => exit ??= runtime.Run()) { IsBackground = true };
                thread.Start();
                // The limit counts the process's CPU time (the run is all it does), so a loaded host does not fail a
                // slow test; a guest that waits without using the CPU has three times the limit in wall-clock time.
                var watch = new ProgressWatch(limit, 3 * limit);
                while (!thread.Join(200))
                {
                    if (!watch.Stalled(default)) continue;
                    runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser, Detail: "time limit"));
                    thread.Join(TimeSpan.FromSeconds(10));
                    exit = new MachineExit(ExitReason.StoppedByUser,
                        Detail: $"timed out after {limit.TotalSeconds:F0} s of CPU time or {3 * limit.TotalSeconds:F0} s of wall-clock time");
                    break;
                }
            }
            catch (DefinitionException e)
            {
                exit = new MachineExit(ExitReason.StoppedByUser, Detail: "refused: " + e.Message);
            }
            string text;
            lock (output) text = output.ToString();
            log?.WriteLine($"==== {test.Name} ({test.File} {test.Arguments}) -> {exit?.Reason} {exit?.Status} {exit?.Detail}");
            log?.Write(text);
            var summary = text.Split('\n').LastOrDefault(l => l.StartsWith("SUMMARY:")) ?? "";
            return exit switch
            {
                { Reason: ExitReason.DebugExit, Status: 1 } => new(test, "passed", summary, clock.Elapsed),
                { Reason: ExitReason.DebugExit, Status: 77 } => new(test, "skipped", "skipped by the test: " + summary, clock.Elapsed),
                { Reason: ExitReason.DebugExit } e => new(test, "failed", $"status {e.Status}: {summary} {FirstFailure(text)}".Trim(), clock.Elapsed),
                _ => new(test, "failed", $"{exit?.Reason} {exit?.Detail?.Split('\n')[0]} {FirstFailure(text)}".Trim(), clock.Elapsed),
            };
        }
        finally { File.Delete(environ); }
    }

    private static string FirstFailure(string output) =>
        output.Split('\n').FirstOrDefault(l => l.StartsWith("FAIL")) ?? "";
}

/// <summary>
/// pc-testdev's 64 KiB of RAM-like MMIO at 0xFF000000, in the place of the script device the definition
/// (machine-defs/lib/kvm-unit-test.js) gives it: the runner builds machines without a script engine.
/// </summary>
internal sealed class IoRam : IPortDevice, IMmioDevice
{
    public const ulong Base = 0xFF00_0000, Length = 0x10000;
    private readonly byte[] _bytes = new byte[Length];

    public ulong ReadMmio(ulong address, int size)
    {
        ulong value = 0;
        for (int i = size - 1; i >= 0; i--) value = value << 8 | _bytes[(address - Base + (ulong)i) % Length];
        return value;
    }

    public void WriteMmio(ulong address, int size, ulong value)
    {
        for (int i = 0; i < size; i++) _bytes[(address - Base + (ulong)i) % Length] = (byte)(value >> (8 * i));
    }

    public uint ReadPort(ushort port, int size) => uint.MaxValue;
    public void WritePort(ushort port, int size, uint value) { }
}
