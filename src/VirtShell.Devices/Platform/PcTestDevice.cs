using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// QEMU's pc-testdev, the ports kvm-unit-tests drive: a 32-bit scratch register at 0xE0–0xE3 (an access at 0xE0 + k
/// of n bytes reads or writes bytes k … k + n − 1), the "flush page" port at 0xE4–0xE7, and at 0x2000 + n a write
/// that sets ISA IRQ line n (0–23) to the value written (non-zero = high). QEMU's 64 KiB of RAM-like MMIO at
/// 0xFF000000 is not here: a definition adds it as a script device (machine-defs/lib/kvm-unit-test.js).
/// </summary>
public sealed class PcTestDevice(IInterruptController interrupts) : IPortDevice, IDeviceState
{
    public const ushort ScratchPort = 0xE0, FlushPagePort = 0xE4, IrqPortBase = 0x2000;
    public const int IrqLines = 24;

    private readonly object _lock = new();
    // Connected on first use: a controller with fewer inputs refuses only the lines a test actually drives.
    private readonly InterruptLine?[] _lines = new InterruptLine?[IrqLines];
    private uint _scratch;

    public uint ReadPort(ushort port, int size)
    {
        if (port >= FlushPagePort) return Ones(size); // the flush and IRQ ports are write-only
        lock (_lock) return (uint)(_scratch >> ((port - ScratchPort) * 8)) & Ones(size);
    }

    public void WritePort(ushort port, int size, uint value)
    {
        if (port >= IrqPortBase)
        {
            int irq = port - IrqPortBase;
            InterruptLine line;
            lock (_lock) line = _lines[irq] ??= interrupts.Connect(irq);
            line.Set(value != 0);
            return;
        }
        // QEMU's flush makes KVM fault on the page again; guest memory here is never cached apart from the CPU's
        // own view, which every store keeps current, so there is nothing to flush.
        if (port >= FlushPagePort) return;
        int shift = (port - ScratchPort) * 8;
        uint mask = (uint)((Ones(size) << shift) & 0xFFFF_FFFFul);
        lock (_lock) _scratch = (_scratch & ~mask) | ((value << shift) & mask);
    }

    /// <summary>The scratch register and the level of each IRQ line a test drove.</summary>
    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            writer.WriteUInt32(_scratch);
            foreach (var line in _lines) writer.WriteBool(line?.Asserted ?? false);
        }
    }

    public void RestoreState(StateReader reader)
    {
        uint scratch = reader.ReadUInt32();
        var levels = new bool[IrqLines];
        for (int i = 0; i < IrqLines; i++) levels[i] = reader.ReadBool();
        lock (_lock)
        {
            _scratch = scratch;
            for (int i = 0; i < IrqLines; i++)
                if (levels[i]) (_lines[i] ??= interrupts.Connect(i)).RestoreLevel(true);
        }
    }

    private static uint Ones(int size) => size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => 0xFFFF_FFFFu };
}
