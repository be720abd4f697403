using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Platform;

/// <summary>
/// QEMU's isa-debugcon: every byte written to the port goes to the machine's console. BIOSes print their
/// diagnostics there (SeaBIOS at 0x402, the Bochs BIOS's info messages at 0x403) when there is no screen to read.
/// A read returns 0xE9, the value by which SeaBIOS recognises the port and starts using it.
/// </summary>
public sealed class DebugConsole(ConsoleChannel console) : IPortDevice, IStatelessDevice
{
    public const byte ReadBack = 0xE9;

    public uint ReadPort(ushort port, int size) => ReadBack;

    public void WritePort(ushort port, int size, uint value) => console.WriteFromGuest((byte)value);
}
