using VirtShell.Engine.Buses;
using VirtShell.Engine.Machines;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// QEMU's isa-debug-exit: a write of <c>v</c> ends the machine with status <c>(v &lt;&lt; 1) | 1</c>, so a test guest
/// can report pass or fail, and the status can never be 0 (which would look like a clean power-off).
/// </summary>
public sealed class DebugExit : IPortDevice, IStatelessDevice
{
    private readonly Action<MachineExit> _powerOff;

    public DebugExit(Action<MachineExit> powerOff) => _powerOff = powerOff;

    /// <summary>Nothing to read; the port floats, as an unclaimed one does.</summary>
    public uint ReadPort(ushort port, int size) => size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => 0xFFFF_FFFFu };

    // The machine keeps the first exit it is given, so a second write changes nothing; no lock needed.
    public void WritePort(ushort port, int size, uint value) =>
        _powerOff(new MachineExit(ExitReason.DebugExit, Status: unchecked((int)(value << 1 | 1))));
}
