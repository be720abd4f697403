using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;

namespace VirtShell.Tests.Models;

/// <summary>The definition loader and host as the module makes them: the built-in models and their device types.</summary>
internal static class TestDefinitions
{
    public static DefinitionVocabulary Vocabulary { get; } = ModelCatalog.CreateRegistry(Path.GetTempPath()).Vocabulary;

    public static JsDefinitionLoader Loader(ScriptLimits? limits = null, string? cacheDirectory = null) => new(Vocabulary, limits, cacheDirectory);

    public static VirtualizationHost Host(MachineStore store) =>
        new(store, ModelCatalog.CreateRegistry(store.Home), Loader());
}
