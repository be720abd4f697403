using VirtShell.Engine.Machines;

namespace VirtShell.Engine.Definitions;

/// <summary>Turns a definition file into a spec and the hooks that go with it (the JavaScript loader implements this).</summary>
public interface IDefinitionLoader
{
    /// <summary>Loads and validates. Throws <see cref="DefinitionException"/> naming the file and line at fault.</summary>
    /// <param name="path">The definition file to read.</param>
    /// <param name="nameOverride">The machine's name, in place of the one the definition gives.</param>
    /// <param name="sourcePath">
    /// The file <paramref name="path"/> is a stored copy of (see <see cref="Store.StoredDefinition"/>): the code is
    /// read from the copy, but relative paths resolve against this file's folder and the spec names it as its
    /// <see cref="MachineSpec.DefinitionPath"/>. Null when <paramref name="path"/> is the definition itself.
    /// </param>
    LoadedDefinition Load(string path, string? nameOverride = null, string? sourcePath = null);

    /// <summary>Makes every load in progress stop at once with a <see cref="DefinitionException"/> (Ctrl+C).</summary>
    void InterruptLoads() { }
}

/// <summary>A loaded definition; disposing it releases the script engine behind the hooks.</summary>
/// <param name="spec">The validated spec.</param>
/// <param name="hooks">The definition's hooks, if any.</param>
/// <param name="files">The code files the load read (see <see cref="Files"/>).</param>
public sealed class LoadedDefinition(MachineSpec spec, IMachineHooks? hooks, IReadOnlyCollection<string>? files = null) : IDisposable
{
    /// <summary>The code files the load read, absolute: the definition and every module it imported.</summary>
    public IReadOnlyCollection<string> Files { get; } = files ?? [];
    /// <summary>The validated spec.</summary>
    public MachineSpec Spec { get; } = spec;
    /// <summary>The definition's hooks; null when it has none.</summary>
    public IMachineHooks? Hooks { get; } = hooks;
    /// <summary>Releases the hooks and their script engine; the spec stays usable.</summary>
    public void Dispose() => Hooks?.Dispose();
}
