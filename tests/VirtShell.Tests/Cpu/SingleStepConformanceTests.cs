using VirtShell.Conformance;
using Xunit;

namespace VirtShell.Tests.Cpu;

/// <summary>A fact that is skipped, with the reason, when the SingleStepTests data is not on this machine.</summary>
public sealed class SingleStepDataFactAttribute : FactAttribute
{
    public SingleStepDataFactAttribute()
    {
        if (SingleStepSuite.FindDataDirectory() == null)
            Skip = "SingleStepTests data not found (set VIRTSHELL_SINGLESTEP_DIR or provide shared/testdata/singlestep)";
    }
}

public sealed class SingleStepConformanceTests
{
    private static void AssertSuitePasses(string sub, SuiteCpu cpu)
    {
        var dir = Path.Combine(SingleStepSuite.FindDataDirectory()!, sub);
        var result = new SingleStepSuite(dir, cpu).Run(Environment.ProcessorCount);
        var failures = result.Files.Where(f => f.Failed > 0).SelectMany(f => f.Failures.Select(x => $"{f.File}: {x}")).Take(20);
        Assert.True(result.Failed == 0, $"{result.Name}: {result.Failed} failed\n{string.Join("\n", failures)}");
        Assert.True(result.Passed > 60000, $"{result.Name}: only {result.Passed} tests ran");
    }

    [SingleStepDataFact]
    public void Suite_8086_passes() => AssertSuitePasses("8086", SuiteCpu.I8086);

    [SingleStepDataFact]
    public void Suite_80286_passes() => AssertSuitePasses("80286", SuiteCpu.I80286);
}
