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
    public MachineSpec Spec { get; } = spec;
    public IMachineHooks? Hooks { get; } = hooks;
    public void Dispose() => Hooks?.Dispose();
}
