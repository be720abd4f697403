using System.Diagnostics;
using VirtShell.Conformance;

// Runs the SingleStepTests suites and prints one line per suite; the per-opcode table goes to --out.
string? dataArg = null;
string outDir = Path.Combine("out", "conformance");
string? only = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data" when i + 1 < args.Length: dataArg = args[++i]; break;
        case "--out" when i + 1 < args.Length: outDir = args[++i]; break;
        case "--only" when i + 1 < args.Length: only = args[++i]; break;
        case "--mips":
            MipsBenchmark.RealMode(); // warm-up: let the JIT reach its final tier before measuring
            MipsBenchmark.ProtectedMode();
            Console.WriteLine(MipsBenchmark.RealMode());
            Console.WriteLine(MipsBenchmark.ProtectedMode());
            return 0;
        case "--list-rules":
            foreach (var rule in Exclusions.All) Console.WriteLine($"| `{rule.Id}` | {rule.Reason} |");
            return 0;
        default:
            Console.Error.WriteLine($"unknown or incomplete argument '{args[i]}'. Usage: VirtShell.Conformance [--data DIR] [--out DIR] [--only FILE-PREFIX] [--list-rules] [--mips]");
            return 2;
    }
}

var dataDir = SingleStepSuite.FindDataDirectory(dataArg);
if (dataDir == null || !Directory.Exists(dataDir))
{
    Console.Error.WriteLine($"SingleStepTests data not found (looked for {dataArg ?? "$VIRTSHELL_SINGLESTEP_DIR or shared/testdata/singlestep above the current directory"})");
    return 2;
}

Directory.CreateDirectory(outDir);
bool anyFailed = false;
foreach (var (sub, cpu) in new[] { ("8086", SuiteCpu.I8086), ("80286", SuiteCpu.I80286) })
{
    var sw = Stopwatch.StartNew();
    SuiteResult result;
    try
    {
        var suite = new SingleStepSuite(Path.Combine(dataDir, sub), cpu);
        result = suite.Run(Environment.ProcessorCount, only == null ? null : f => f.StartsWith(only, StringComparison.OrdinalIgnoreCase));
    }
    catch (Exception e) when (e is IOException or InvalidDataException or AggregateException)
    {
        var inner = e is AggregateException ae ? ae.Flatten().InnerExceptions : [e];
        foreach (var x in inner) Console.Error.WriteLine($"{sub}: {x.Message}");
        return 2;
    }
    Console.WriteLine($"{result.Name}: {result.Passed} passed, {result.Failed} failed, {result.Skipped} skipped");
    anyFailed |= result.Failed > 0;
    using var w = new StreamWriter(Path.Combine(outDir, result.Name + ".txt"));
    w.WriteLine($"# {result.Name}: {result.Passed} passed, {result.Failed} failed, {result.Skipped} skipped in {sw.Elapsed.TotalSeconds:F1}s");
    w.WriteLine($"{"file",-8} {"passed",7} {"failed",7} {"skipped",8}  skip rules / first failures");
    foreach (var f in result.Files)
    {
        string skips = string.Join(", ", f.SkipsByRule.Select(kv => $"{kv.Key}={kv.Value}"));
        w.WriteLine($"{f.File,-8} {f.Passed,7} {f.Failed,7} {f.Skipped,8}  {skips}");
        foreach (var failure in f.Failures) w.WriteLine($"         {failure}");
    }
}
return anyFailed ? 1 : 0;
