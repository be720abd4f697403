using VirtShell.Engine.Definitions;
using VirtShell.Engine.Models;

namespace VirtShell.Engine.State;

/// <summary>A model whose machines can be saved and built again from a saved state (the emulated model so far).</summary>
public interface IRestorableModel
{
    /// <summary>
    /// Builds a machine from <paramref name="spec"/> — the definition the state was saved with — without booting it,
    /// and loads <paramref name="state"/> into it; its first run goes on where the saved one was. Nothing is left
    /// behind on failure.
    /// </summary>
    /// <exception cref="StateFormatException">The state does not fit the definition or is damaged.</exception>
    IMachineRuntime Restore(MachineSpec spec, MachineServices services, SavedState state);
}
