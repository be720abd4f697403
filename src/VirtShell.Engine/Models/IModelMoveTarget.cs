using VirtShell.Engine.Definitions;
using VirtShell.Engine.State;

namespace VirtShell.Engine.Models;

/// <summary>
/// A model a running machine of another model can move to (Move-VirtMachine -Model): it takes that model's saved
/// state and builds its own machine of the same definition from it.
/// </summary>
public interface IModelMoveTarget
{
    /// <summary>
    /// Builds <paramref name="spec"/>'s machine on this model from <paramref name="state"/>, a state saved by model
    /// <see cref="SavedState.Model"/> from a machine of the same definition; its first run goes on where that one was.
    /// </summary>
    /// <exception cref="StateNotSupportedException">The state, or a part of it, cannot move to this model (the message says which and why).</exception>
    /// <exception cref="Definitions.DefinitionException">The definition is not valid for this model.</exception>
    IMachineRuntime Adopt(MachineSpec spec, MachineServices services, SavedState state);
}
