using VirtShell.Cpu.Interpreter;
using VirtShell.Engine.Definitions;

namespace VirtShell.Models.Emulated;

/// <summary>
/// The emulated model's <c>cpu</c> section: which tier runs guest code, after how many runs the translator compiles a
/// block (null: the CPU's default), and where compiled blocks are dumped.
/// </summary>
internal sealed record CpuSection(CpuTier Tier, string? DumpPath, int? CompileThreshold = null)
{
    public const string Name = "cpu";
    /// <summary>The highest compileThreshold accepted: past it a block would practically never be compiled.</summary>
    public const int MaxCompileThreshold = 1 << 24;

    public static CpuSection Read(MachineSpec spec)
    {
        if (!spec.Sections.TryGetValue(Name, out var raw) || raw is null) return new(CpuTier.Auto, null);
        var values = raw switch
        {
            IReadOnlyDictionary<string, object?> d => d,
            IDictionary<string, object?> d => d.AsReadOnly(),
            _ => throw new DefinitionException($"{Name} must be an object, not {raw}", spec.Source),
        };
        foreach (var key in values.Keys)
            if (key is not ("tier" or "dump" or "compileThreshold"))
                throw new DefinitionException($"{Name}.{key}: unknown setting (cpu has: tier, compileThreshold, dump)", spec.Source);
        var tier = values.GetValueOrDefault("tier") switch
        {
            null or "auto" => CpuTier.Auto,
            "interpreter" => CpuTier.Interpreter,
            "translator" => CpuTier.Translator,
            var v => throw new DefinitionException($"{Name}.tier: '{v}' is not a tier (auto, interpreter, translator)", spec.Source),
        };
        string? dump = values.GetValueOrDefault("dump") switch
        {
            null => null,
            string { Length: > 0 } path => Path.GetFullPath(path, Path.GetDirectoryName(spec.DefinitionPath) ?? Environment.CurrentDirectory),
            var v => throw new DefinitionException($"{Name}.dump: must be a file path, not {v}", spec.Source),
        };
        if (dump != null && tier == CpuTier.Interpreter)
            throw new DefinitionException($"{Name}.dump: only the translator compiles blocks, and {Name}.tier is 'interpreter' (leave it out, or set 'auto' or 'translator')", spec.Source);
        int? threshold = values.GetValueOrDefault("compileThreshold") switch
        {
            null => null,
            int n and >= 1 and <= MaxCompileThreshold => n,
            long n and >= 1 and <= MaxCompileThreshold => (int)n,
            double n when n >= 1 && n <= MaxCompileThreshold && n == Math.Floor(n) => (int)n,
            var v => throw new DefinitionException(
                $"{Name}.compileThreshold: must be a whole number of runs from 1 to {MaxCompileThreshold}, not {v}", spec.Source),
        };
        if (threshold != null && tier == CpuTier.Interpreter)
            throw new DefinitionException($"{Name}.compileThreshold: only the translator compiles blocks, and {Name}.tier is 'interpreter' (leave it out, or set 'auto' or 'translator')", spec.Source);
        return new(tier, dump, threshold);
    }

    /// <summary>The spec without this section, for the checks the PC models share (which refuse every section).</summary>
    public static MachineSpec Without(MachineSpec spec) =>
        spec with { Sections = spec.Sections.Where(s => s.Key != Name).ToDictionary() };
}
