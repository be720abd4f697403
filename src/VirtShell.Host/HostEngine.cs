using VirtShell.Engine.Models;
using VirtShell.Engine.Store;
using VirtShell.Scripting;

namespace VirtShell.Host;

/// <summary>What a host runs its machine with, made before the machine is known (so a spare can make it early).</summary>
internal sealed record HostEngine(ModelRegistry Models, JsDefinitionLoader Loader)
{
    public static HostEngine Prepare(MachineStore store)
    {
        var models = VirtShell.Models.ModelCatalog.CreateRegistry(store.Home);
        return new HostEngine(models, new JsDefinitionLoader(models.Vocabulary, cacheDirectory: store.DefinitionCacheDirectory));
    }
}
