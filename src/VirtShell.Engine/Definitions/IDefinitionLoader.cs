using VirtShell.Engine.Machines;

namespace VirtShell.Engine.Definitions;

/// <summary>Turns a definition file into a spec and the hooks that go with it (the JavaScript loader implements this).</summary>
public interface IDefinitionLoader
{
    /// <summary>Loads and validates. Throws <see cref="DefinitionException"/> naming the file and line at fault.</summary>
    LoadedDefinition Load(string path, string? nameOverride = null);

    /// <summary>Makes every load in progress stop at once with a <see cref="DefinitionException"/> (Ctrl+C).</summary>
    void InterruptLoads() { }
}

/// <summary>A loaded definition; disposing it releases the script engine behind the hooks.</summary>
public sealed class LoadedDefinition(MachineSpec spec, IMachineHooks? hooks) : IDisposable
{
    /// <summary>The validated spec.</summary>
    public MachineSpec Spec { get; } = spec;
    /// <summary>The definition's hooks; null when it has none.</summary>
    public IMachineHooks? Hooks { get; } = hooks;
    /// <summary>Releases the hooks and their script engine; the spec stays usable.</summary>
    public void Dispose() => Hooks?.Dispose();
}
