using System.Runtime.CompilerServices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Devices;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Pci;

/// <summary>
/// A minimal PCI host bridge: bus 0, devices in slots 1–31 (the bridge itself is 00:00.0; functions 1–7 for a
/// multi-function device such as the PIIX3 of <see cref="I440fx"/>),
/// configuration mechanism #1 at 0xCF8/0xCFC, and one MMIO window that memory BARs are assigned from. The window is
/// decoded here rather than by registering each BAR on the bus, because a driver may move a BAR within it.
/// </summary>
public sealed class PciHostBridge : IPortDevice, IMmioDevice, IDeviceState, IDiskImageCarrier
{
    public const ushort AddressPort = 0xCF8, DataPort = 0xCFC;
    public const ulong WindowBase = 0xE000_0000, WindowSize = 0x1000_0000;
    public const int Slots = 32;
    public const string Owner = "PCI host bridge", WindowOwner = "PCI host bridge (BAR window)";
    /// <summary>Configuration mechanism #1's address and data ports.</summary>
    public static readonly BusClaim ConfigPorts = new(AddressPort, 8, Owner);
    /// <summary>Where memory BARs are assigned.</summary>
    public static readonly BusClaim Window = new(WindowBase, WindowSize, WindowOwner);

    private static readonly ConditionalWeakTable<IoPortBus, PciHostBridge> Machines = new();

    private readonly object _lock = new();
    private const int FunctionsPerSlot = 8;
    private readonly PciFunction?[] _functions = new PciFunction?[Slots * FunctionsPerSlot];
    private uint _address;
    private ulong _nextBar = WindowBase;

    /// <param name="hostBridge">What 00:00.0 says it is; by default Red Hat's generic PCIe host bridge, as QEMU's.</param>
    public PciHostBridge(PciFunction? hostBridge = null) => _functions[0] = hostBridge ?? new HostBridgeFunction();

    /// <summary>
    /// The machine's bridge, made and put on its buses by the PC's board or the first PCI device attached;
    /// <paramref name="hostBridge"/> is the identity of 00:00.0 for the one that makes it.
    /// </summary>
    public static PciHostBridge For(DeviceContext context, PciFunction? hostBridge = null)
    {
        lock (Machines)
        {
            if (Machines.TryGetValue(context.Ports, out var bridge)) return bridge;
            bridge = new PciHostBridge(hostBridge);
            context.Ports.Register(ConfigPorts, bridge);
            context.Mmio.Register(Window, bridge);
            Machines.Add(context.Ports, bridge);
            return bridge;
        }
    }

    public void Add(int slot, PciFunction function, int functionNumber = 0)
    {
        lock (_lock)
        {
            if (slot is < 1 or >= Slots) throw new ArgumentOutOfRangeException(nameof(slot), slot, "PCI slots are 1..31 (0 is the host bridge)");
            if (functionNumber is < 0 or >= FunctionsPerSlot) throw new ArgumentOutOfRangeException(nameof(functionNumber), functionNumber, "PCI functions are 0..7");
            int at = slot * FunctionsPerSlot + functionNumber;
            if (_functions[at] != null) throw new InvalidOperationException($"PCI slot {slot}{(functionNumber == 0 ? "" : $" function {functionNumber}")} is already taken");
            _functions[at] = function;
        }
    }

    /// <summary>Places a BAR of <paramref name="size"/> bytes (a power of 2) in the window, as firmware would before boot.</summary>
    public uint AllocateBar(uint size)
    {
        lock (_lock)
        {
            ulong at = (_nextBar + size - 1) & ~((ulong)size - 1);
            if (at + size > WindowBase + WindowSize) throw new InvalidOperationException("the PCI BAR window is full");
            _nextBar = at + size;
            return (uint)at;
        }
    }

    public uint ReadPort(ushort port, int size)
    {
        lock (_lock)
        {
            if (port == AddressPort && size == 4) return _address;
            if (port < DataPort) return size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => uint.MaxValue };
            var function = Selected(out int register);
            return function?.ReadConfig(register + (port - DataPort), size)
                ?? (size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => uint.MaxValue }); // no device: all ones, vendor 0xFFFF
        }
    }

    public void WritePort(ushort port, int size, uint value)
    {
        lock (_lock)
        {
            if (port == AddressPort && size == 4) _address = value & 0x80FF_FFFC;
            else if (port >= DataPort) Selected(out int register)?.WriteConfig(register + (port - DataPort), size, value);
        }
    }

    /// <summary>The function CONFIG_ADDRESS names, if enabled and on bus 0.</summary>
    /// <summary>The address latch, then each function's configuration space and its own state, by slot and function.</summary>
    /// <exception cref="StateNotSupportedException">A function has state beyond its configuration space it cannot save.</exception>
    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            var unsaved = _functions.OfType<PciFunction>().Where(f => f is not (IDeviceState or IStatelessDevice)).ToList();
            if (unsaved.Count > 0)
                throw new StateNotSupportedException($"this machine's state cannot be saved: PCI function {string.Join(", ", unsaved.Select(f => f.GetType().Name))} cannot save its state");
            writer.WriteUInt32(_address);
            foreach (var function in _functions.OfType<PciFunction>())
            {
                function.SaveConfig(writer);
                (function as IDeviceState)?.SaveState(writer);
            }
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_lock)
        {
            _address = reader.ReadUInt32() & 0x80FF_FFFC;
            foreach (var function in _functions.OfType<PciFunction>())
            {
                function.RestoreConfig(reader);
                (function as IDeviceState)?.RestoreState(reader);
            }
        }
    }

    public IEnumerable<IDiskImageDevice> DiskImages
    {
        get
        {
            lock (_lock) return [.. _functions.OfType<IDiskImageCarrier>().SelectMany(f => f.DiskImages)];
        }
    }

    private PciFunction? Selected(out int register)
    {
        register = (int)(_address & 0xFC);
        if ((_address & 0x8000_0000) == 0) return null;
        int bus = (int)(_address >> 16) & 0xFF, slot = (int)(_address >> 11) & 0x1F, function = (int)(_address >> 8) & 7;
        return bus == 0 ? _functions[slot * FunctionsPerSlot + function] : null;
    }

    public ulong ReadMmio(ulong address, int size)
    {
        var (function, bar, offset) = Decode(address);
        return function?.ReadBar(bar, offset, size) ?? (size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1);
    }

    public void WriteMmio(ulong address, int size, ulong value)
    {
        var (function, bar, offset) = Decode(address);
        function?.WriteBar(bar, offset, size, value);
    }

    private (PciFunction? Function, int Bar, ulong Offset) Decode(ulong address)
    {
        lock (_lock)
        {
            foreach (var function in _functions)
            {
                if (function == null) continue;
                for (int bar = 0; bar < 6; bar++)
                    if (function.MemoryBar(bar) is var (start, length) && address >= start && address - start < length)
                        return (function, bar, address - start);
            }
            return (null, 0, 0);
        }
    }

    /// <summary>00:00.0, so that a scan finds a host bridge where it expects one.</summary>
    private sealed class HostBridgeFunction() : PciFunction(0x1B36, 0x0008, 0x060000, 0, 0x1B36, 0, null, -1), IStatelessDevice
    {
        public override ulong ReadBar(int bar, ulong offset, int size) => 0;
        public override void WriteBar(int bar, ulong offset, int size, ulong value) { }
    }
}
