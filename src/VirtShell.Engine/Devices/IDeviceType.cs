using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;

namespace VirtShell.Engine.Devices;

/// <summary>Everything a device may attach to when a machine is built.</summary>
public sealed class DeviceContext(IoPortBus ports, MmioBus mmio, IInterruptController interrupts, GuestMemory memory, MachineServices services)
{
    /// <summary>The machine's I/O port space.</summary>
    public IoPortBus Ports { get; } = ports;
    /// <summary>The machine's MMIO space.</summary>
    public MmioBus Mmio { get; } = mmio;
    /// <summary>Where the device connects its interrupt lines.</summary>
    public IInterruptController Interrupts { get; } = interrupts;
    /// <summary>Guest RAM, for DMA.</summary>
    public GuestMemory Memory { get; } = memory;
    /// <summary>The console, power-off and the machine log.</summary>
    public MachineServices Services { get; } = services;
}

/// <summary>
/// A kind of device a definition can name (<c>uart16550</c>, <c>debugExit</c>, ...). It validates its settings, says
/// which ports it will claim (so overlaps are found before boot) and attaches an instance to a machine.
/// </summary>
public interface IDeviceType
{
    /// <summary>The name used in definitions, e.g. "uart16550".</summary>
    string Name { get; }

    /// <summary>Throws <see cref="DefinitionException"/> naming the device (<see cref="DeviceSpec.Describe"/>) and the setting at fault.</summary>
    void Validate(DeviceSpec spec);

    /// <summary>The port ranges an instance with these settings claims.</summary>
    IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec);

    /// <summary>Creates the device and registers it on the context's buses. The result is disposed with the machine (may be null).</summary>
    IDisposable? Attach(DeviceSpec spec, DeviceContext context);
}
