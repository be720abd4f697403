using VirtShell.Engine.Definitions;

namespace VirtShell.Devices;

/// <summary>
/// A device type that a device-tree board (the riscv64 virt board) can tell its guest about: it adds its instance's
/// node under the board's bus node. The board asks the type rather than switching on its name, so a new device type
/// describes itself, and a type without this hook is a definition error on such a board (the guest would never find it).
/// </summary>
public interface IDeviceTreeDeviceType
{
    /// <summary>Adds the node of the device <paramref name="spec"/> defines under <paramref name="board"/>'s bus node.</summary>
    void Describe(DeviceSpec spec, DeviceTreeBoard board);
}

/// <summary>What a device's node refers to on the board.</summary>
/// <param name="Bus">The node devices go under (/soc on the virt board).</param>
/// <param name="BusPath">Its path, for references such as /chosen's stdout-path.</param>
/// <param name="Chosen">/chosen, where a console names itself.</param>
/// <param name="Interrupt">Writes a node's connection to interrupt input n of the board's interrupt controller.</param>
public sealed record DeviceTreeBoard(DeviceTreeNode Bus, string BusPath, DeviceTreeNode Chosen, Action<DeviceTreeNode, int> Interrupt);
