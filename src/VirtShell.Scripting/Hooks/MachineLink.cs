using VirtShell.Engine.Machines;
using VirtShell.Scripting.Runtime;

namespace VirtShell.Scripting.Hooks;

/// <summary>
/// What the hooks and script devices of one loaded definition share: the engine, and the machine they serve. The
/// machine is only known once it calls <see cref="IMachineHooks.BeforeBoot"/>; until then a script device has no
/// machine to fail and answers reads with all ones.
/// </summary>
internal sealed class MachineLink(DefinitionEngine engine)
{
    private volatile IMachineApi? _api;

    public DefinitionEngine Engine { get; } = engine;

    public IMachineApi? Api { get => _api; set => _api = value; }

    public TimeSpan Budget => Engine.Limits.HookTimeout;
}
