using VirtShell.Cpu.Interpreter;

namespace VirtShell.Conformance;

/// <summary>The emulated model's cpu section that picks a tier, as a definition's <c>cpu: { tier }</c> would give it.</summary>
internal static class TierSection
{
    public static Dictionary<string, object?> For(CpuTier tier) => new()
    {
        ["cpu"] = new Dictionary<string, object?> { ["tier"] = tier.ToString().ToLowerInvariant() },
    };

    /// <summary>The tiers --tier names: one, or both (the default).</summary>
    public static CpuTier[] Parse(string value) => value switch
    {
        "both" => [CpuTier.Interpreter, CpuTier.Translator],
        "interpreter" => [CpuTier.Interpreter],
        "translator" => [CpuTier.Translator],
        _ => throw new ArgumentException($"--tier: '{value}' is not interpreter, translator or both"),
    };
}
