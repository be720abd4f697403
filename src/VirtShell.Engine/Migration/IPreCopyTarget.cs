using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;

namespace VirtShell.Engine.Migration;

/// <summary>A model that can receive a machine by pre-copy: it builds one whose RAM a <see cref="PreCopyReceiver"/> fills.</summary>
public interface IPreCopyTarget
{
    /// <summary>
    /// Builds <paramref name="spec"/>'s machine neither booted nor restored. Its RAM is then filled by a
    /// <see cref="PreCopyReceiver"/>, the CPU and devices by <see cref="VirtualMachineRuntime.RestoreState"/> without
    /// memory, and its first run goes on where the source stopped.
    /// </summary>
    /// <exception cref="Engine.State.StateNotSupportedException">This kind of machine cannot be received so.</exception>
    VirtualMachineRuntime BuildIncoming(MachineSpec spec, MachineServices services);
}
