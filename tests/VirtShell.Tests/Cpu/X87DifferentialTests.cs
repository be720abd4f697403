using VirtShell.Conformance.X87Differential;

namespace VirtShell.Tests.Cpu;

/// <summary>Runs only where the host CPU can be the reference (x86-64 Linux).</summary>
public sealed class HostReferenceFactAttribute : FactAttribute
{
    public HostReferenceFactAttribute()
    {
        if (X87Differential.Unavailable is { } why) Skip = $"no native reference: {why}";
    }
}

/// <summary>
/// A short seeded run of the x87/integer differential fuzzer (the Conformance task runs a long one): every sequence
/// must leave the interpreter in the state the host CPU reaches.
/// </summary>
public sealed class X87DifferentialTests
{
    [HostReferenceFact]
    public void Random_x87_and_integer_sequences_match_the_host_cpu()
    {
        var result = X87Differential.Run(count: 1500, seed: 20261207, maxReports: 3);
        Assert.True(result.Mismatches == 0 && result.InternalErrors == 0, $"{result}\n{string.Join('\n', result.Reports)}");
        Assert.True(result.Covered.Count > 150, $"only {result.Covered.Count} mnemonics were generated");
    }
}
