using VirtShell.Fuzz;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Fuzz;

/// <summary>One instance of each fuzz target for the whole class, as the fuzzer uses them: many inputs in a row.</summary>
public sealed class FuzzTargetsFixture : IDisposable
{
    private readonly Dictionary<string, IFuzzTarget> _targets = [];

    public IFuzzTarget Get(string name)
    {
        lock (_targets)
        {
            if (!_targets.TryGetValue(name, out var target)) _targets[name] = target = FuzzTargets.Create(name);
            return target;
        }
    }

    public void Dispose()
    {
        foreach (var target in _targets.Values) target.Dispose();
    }
}

/// <summary>
/// Every file under tests/fuzz/&lt;target&gt;/corpus and crashes/ (the seeds, what afl-cmin kept, and every crash or
/// hang ever found) goes through its fuzz target again: it must end as the engine means it to, with no exception,
/// within the hang limit. New files are picked up as they are added; docs/fuzzing.md says how they get there.
/// </summary>
public sealed class FuzzRegressionTests(FuzzTargetsFixture targets) : IClassFixture<FuzzTargetsFixture>
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in FuzzTargets.Names)
            foreach (string kind in new[] { "corpus", "crashes" })
            {
                string folder = Path.Combine(RepoPaths.Root, "tests", "fuzz", target, kind);
                if (!Directory.Exists(folder)) continue;
                foreach (string file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
                    data.Add(target, Path.GetRelativePath(RepoPaths.Root, file));
            }
        return data;
    }

    [Fact]
    public void EveryTarget_HasACorpus()
    {
        foreach (string target in FuzzTargets.Names)
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(RepoPaths.Root, "tests", "fuzz", target, "corpus")));
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Input_EndsAsTheEngineMeansIt(string target, string file)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(RepoPaths.Root, file));
        var fuzzTarget = targets.Get(target);
        var run = Task.Factory.StartNew(() => fuzzTarget.Run(input), TaskCreationOptions.LongRunning);
        // A bound well past what any input costs (each target limits its own work): only a hang gets near it.
        Assert.True(run.Wait(FuzzTargets.HangLimit * 4), $"{file} did not finish within {(FuzzTargets.HangLimit * 4).TotalSeconds} s: the engine hangs on it");
        run.GetAwaiter().GetResult(); // rethrows what the engine threw
    }
}
