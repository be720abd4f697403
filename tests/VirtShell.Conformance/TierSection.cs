using VirtShell.Cpu.Interpreter;

namespace VirtShell.Conformance;

/// <summary>
/// One tier a suite runs under: the tier, and for the translator the runs after which it compiles a block (null: the
/// default). A threshold of 1 compiles every block on its first run, so code that runs once is tested compiled too.
/// </summary>
public sealed record TierRun(CpuTier Tier, int? CompileThreshold = null)
{
    public static readonly TierRun Interpreter = new(CpuTier.Interpreter);
    public static readonly TierRun Translator = new(CpuTier.Translator);
    public static readonly TierRun TranslatorEveryBlock = new(CpuTier.Translator, 1);

    /// <summary>The emulated model's cpu section, as a definition's <c>cpu: { tier, compileThreshold }</c> would give it.</summary>
    public Dictionary<string, object?> Section()
    {
        var cpu = new Dictionary<string, object?> { ["tier"] = Tier.ToString().ToLowerInvariant() };
        if (CompileThreshold is { } n) cpu["compileThreshold"] = (long)n;
        return new() { ["cpu"] = cpu };
    }

    /// <summary>What a result line names the run by: "interpreter", "translator", "translator, compileThreshold 1".</summary>
    public override string ToString() =>
        Tier.ToString().ToLowerInvariant() + (CompileThreshold is { } n ? $", compileThreshold {n}" : "");

    /// <summary>A file-name suffix: none for the interpreter, "-translator", "-translator-1".</summary>
    public string FileSuffix =>
        Tier == CpuTier.Interpreter ? "" : "-" + Tier.ToString().ToLowerInvariant() + (CompileThreshold is { } n ? $"-{n}" : "");
}

internal static class TierSection
{
    /// <summary>The tiers --tier names: one, or both (the default); null for anything else.</summary>
    public static TierRun[]? Parse(string value) => value switch
    {
        "both" => [TierRun.Interpreter, TierRun.Translator],
        "interpreter" => [TierRun.Interpreter],
        "translator" => [TierRun.Translator],
        _ => null,
    };
}
