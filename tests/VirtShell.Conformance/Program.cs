using System.Diagnostics;
using VirtShell.Conformance;
using VirtShell.Cpu.Interpreter;

// Runs the SingleStepTests suites and prints one line per suite; the per-opcode table goes to --out.
string? dataArg = null;
string outDir = Path.Combine("out", "conformance");
string? only = null;
string? test386Arg = null;
string? kutArg = null;
string? kutOnly = null;
string? riscvTests = null;
int kutLimit = 120; // vmexit_cpuid and vmexit_inl_pmtimer take 35-50 s on a busy 2-core host
bool runTest386 = true;
bool singleStep = true;
bool runKut = true;
int x87Sequences = 20000, x87Seed = 1;
int trace = 0, traceFrom = 0;
var tiers = TierSection.Parse("both")!;
int? threshold = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data" when i + 1 < args.Length: dataArg = args[++i]; break;
        case "--out" when i + 1 < args.Length: outDir = args[++i]; break;
        case "--only" when i + 1 < args.Length: only = args[++i]; break;
        case "--test386" when i + 1 < args.Length: test386Arg = args[++i]; break;
        case "--kvm-unit-tests" when i + 1 < args.Length: kutArg = args[++i]; break;
        case "--kut-only" when i + 1 < args.Length: kutOnly = args[++i]; break;
        case "--riscv-tests" when i + 1 < args.Length: riscvTests = args[++i]; break;
        case "--kut-limit" when i + 1 < args.Length && int.TryParse(args[i + 1], out kutLimit): i++; break;
        case "--no-test386": runTest386 = false; break;
        case "--tier" when i + 1 < args.Length && TierSection.Parse(args[i + 1]) is { } picked: tiers = picked; i++; break;
        case "--compile-threshold" when i + 1 < args.Length && int.TryParse(args[i + 1], out var n) && n >= 1: threshold = n; i++; break;
        case "--no-singlestep": singleStep = false; break;
        case "--no-kvm-unit-tests": runKut = false; break;
        case "--x87-fuzz" when i + 1 < args.Length && int.TryParse(args[i + 1], out x87Sequences): i++; break;
        case "--seed" when i + 1 < args.Length && int.TryParse(args[i + 1], out x87Seed): i++; break;
        case "--trace" when i + 1 < args.Length && int.TryParse(args[i + 1], out trace): i++; break;
        case "--trace-from" when i + 1 < args.Length && int.TryParse(args[i + 1], System.Globalization.NumberStyles.HexNumber, null, out traceFrom): i++; break;
        case "--mips":
            foreach (var tier in new[] { CpuTier.Interpreter, CpuTier.Translator })
            {
                MipsBenchmark.RealMode(tier); // warm-up: let the JIT reach its final tier before measuring
                MipsBenchmark.ProtectedMode(tier);
                Console.WriteLine(MipsBenchmark.RealMode(tier));
                Console.WriteLine(MipsBenchmark.ProtectedMode(tier));
            }
            return 0;
        case "--list-rules":
            foreach (var rule in Exclusions.All) Console.WriteLine($"| `{rule.Id}` | {rule.Reason} |");
            return 0;
        default:
            Console.Error.WriteLine($"unknown or incomplete argument '{args[i]}'. Usage: VirtShell.Conformance [--data DIR] [--test386 DIR] [--no-test386] [--kvm-unit-tests DIR] [--kut-only NAME[,NAME]] [--kut-limit SECONDS] [--riscv-tests DIR] [--out DIR] [--only FILE-PREFIX] [--no-singlestep] [--no-kvm-unit-tests] [--x87-fuzz N (0: none)] [--seed S] [--trace N [--trace-from POST]] [--tier interpreter|translator|both] [--compile-threshold N] [--list-rules] [--mips]");
            return 2;
    }
}

if (threshold != null) tiers = [.. tiers.Select(t => t.Tier == CpuTier.Translator ? t with { CompileThreshold = threshold } : t)];
var dataDir = SingleStepSuite.FindDataDirectory(dataArg);
if (singleStep && (dataDir == null || !Directory.Exists(dataDir)))
{
    Console.Error.WriteLine($"SingleStepTests data not found (looked for {dataArg ?? "$VIRTSHELL_SINGLESTEP_DIR or shared/testdata/singlestep above the current directory"})");
    return 2;
}

Directory.CreateDirectory(outDir);
bool anyFailed = false;
foreach (var (sub, cpu) in singleStep ? new[] { ("8086", SuiteCpu.I8086), ("80286", SuiteCpu.I80286) } : [])
foreach (var tier in tiers)
{
    var sw = Stopwatch.StartNew();
    SuiteResult result;
    try
    {
        var suite = new SingleStepSuite(Path.Combine(dataDir, sub), cpu);
        result = suite.Run(Environment.ProcessorCount, only == null ? null : f => f.StartsWith(only, StringComparison.OrdinalIgnoreCase), tier.Tier);
    }
    catch (Exception e) when (e is IOException or InvalidDataException or AggregateException)
    {
        var inner = e is AggregateException ae ? ae.Flatten().InnerExceptions : [e];
        foreach (var x in inner) Console.Error.WriteLine($"{sub}: {x.Message}");
        return 2;
    }
    // One instruction per step: the translator compiles each on its first run whatever the threshold.
    string tierName = tier.Tier.ToString().ToLowerInvariant();
    Console.WriteLine($"{result.Name}: {result.Passed} passed, {result.Failed} failed, {result.Skipped} skipped [{tierName}]");
    anyFailed |= result.Failed > 0;
    using var w = new StreamWriter(Path.Combine(outDir, result.Name + (tier.Tier == CpuTier.Interpreter ? "" : "-" + tierName) + ".txt"));
    w.WriteLine($"# {result.Name}: {result.Passed} passed, {result.Failed} failed, {result.Skipped} skipped in {sw.Elapsed.TotalSeconds:F1}s [{tierName}]");
    w.WriteLine($"{"file",-8} {"passed",7} {"failed",7} {"skipped",8}  skip rules / first failures");
    foreach (var f in result.Files)
    {
        string skips = string.Join(", ", f.SkipsByRule.Select(kv => $"{kv.Key}={kv.Value}"));
        w.WriteLine($"{f.File,-8} {f.Passed,7} {f.Failed,7} {f.Skipped,8}  {skips}");
        foreach (var failure in f.Failures) w.WriteLine($"         {failure}");
    }
}
var test386Dir = Test386.FindDataDirectory(test386Arg);
if (runTest386 && test386Dir == null)
    Console.WriteLine($"test386: data not found (looked for {test386Arg ?? "$VIRTSHELL_TEST386_DIR or shared/testdata/test386"}), skipped");
else if (runTest386 && test386Dir != null)
{
    // With both tiers, test386 runs a third time compiling every block on its first run, so the code it runs once
    // (most of it) is tested compiled too.
    foreach (var tier in threshold == null && tiers.Length > 1 ? [.. tiers, TierRun.TranslatorEveryBlock] : tiers)
    {
        var result = Test386.Run(test386Dir, quiet: TimeSpan.FromSeconds(10), trace, traceFrom, tier);
        Console.WriteLine($"{result} [{tier}]");
        if (result.Exit != null) Console.WriteLine($"  ended: {result.Exit}");
        anyFailed |= result.LastPost != 0xFF || result.EeLinesDiffering > 0;
    }
}
var kutDir = KvmUnitTests.FindDataDirectory(kutArg);
if (!runKut) { }
else if (kutDir == null)
    Console.WriteLine($"kvm-unit-tests-i386: data not found (looked for {kutArg ?? "$VIRTSHELL_KVM_UNIT_TESTS_DIR or shared/testdata/kvm-unit-tests/i386"}), skipped");
else
{
    var names = kutOnly?.Split(',', StringSplitOptions.RemoveEmptyEntries);
    foreach (var tier in tiers)
    {
        string suffix = tier.FileSuffix;
        var results = new List<KvmUnitTestResult>();
        using var log = new StreamWriter(Path.Combine(outDir, $"kvm-unit-tests-i386{suffix}.log"));
        foreach (var test in KvmUnitTests.ReadConfig(kutDir).Where(t => names == null || names.Contains(t.Name)))
        {
            var r = KvmUnitTests.Run(kutDir, test, TimeSpan.FromSeconds(kutLimit), log, tier);
            log.Flush();
            results.Add(r);
            if (names != null) Console.WriteLine($"  {test.Name}: {r.Outcome} ({r.Elapsed.TotalSeconds:F1}s) {r.Detail}");
        }
        int passed = results.Count(r => r.Outcome == "passed"), failed = results.Count(r => r.Outcome == "failed");
        string line = $"kvm-unit-tests-i386: {passed} passed, {failed} failed, {results.Count - passed - failed} skipped [{tier}]";
        Console.WriteLine(line);
        var regressions = results.Where(r => r.Outcome == "failed" && !KvmUnitTests.QemuTcgFailsToo.ContainsKey(r.Test.Name)).ToList();
        if (failed > regressions.Count)
            Console.WriteLine($"  of which QEMU TCG fails too (out of scope): {string.Join(", ", results.Where(r => r.Outcome == "failed").Except(regressions).Select(r => r.Test.Name))}");
        anyFailed |= regressions.Count > 0;
        using var w = new StreamWriter(Path.Combine(outDir, $"kvm-unit-tests-i386{suffix}.txt"));
        w.WriteLine("# " + line);
        w.WriteLine($"{"test",-26} {"file",-18} {"result",-8} {"seconds",8}  detail");
        foreach (var r in results)
            w.WriteLine($"{r.Test.Name,-26} {r.Test.File,-18} {r.Outcome,-8} {r.Elapsed.TotalSeconds,8:F1}  {r.Detail}");
    }
}
if (x87Sequences > 0)
{
    if (VirtShell.Conformance.X87Differential.X87Differential.Unavailable is { } why)
        Console.WriteLine($"x87-differential: skipped ({why})");
    else
    {
        var sw = Stopwatch.StartNew();
        var result = VirtShell.Conformance.X87Differential.X87Differential.Run(x87Sequences, x87Seed);
        Console.WriteLine($"{result} (seed {x87Seed}, {result.Instructions} instructions, {result.Covered.Count} mnemonics, {sw.Elapsed.TotalSeconds:F1}s)");
        anyFailed |= result.Mismatches > 0 || result.InternalErrors > 0;
        using var w = new StreamWriter(Path.Combine(outDir, "x87-differential.txt"));
        w.WriteLine($"# {result} (seed {x87Seed}) in {sw.Elapsed.TotalSeconds:F1}s");
        w.WriteLine("# instructions executed per mnemonic: " + string.Join(", ", result.Covered.Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var report in result.Reports) w.WriteLine(report);
    }
}
if (riscvTests == null) { }
else if (!Directory.Exists(riscvTests) || Directory.GetFiles(riscvTests, "*.bin").Length == 0)
    Console.WriteLine($"riscv-tests: no programs in {riscvTests} (scripts/build-riscv-tests.ps1 builds them), skipped");
else
    anyFailed |= !RiscvArchTests.RunAll(riscvTests, outDir);
return anyFailed ? 1 : 0;
