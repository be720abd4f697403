using System.Diagnostics;
using VirtShell.Engine.Buses;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// Port 0x61, the AT's system control port B: bit 0 drives PIT channel 2's gate, bit 1 gates its output to the
/// speaker, bits 2-3 (parity and I/O channel check enables) are stored. Reads add bit 4, the DRAM refresh request
/// that toggles every 15 µs, and bit 5, channel 2's OUT. This is what Linux's TSC calibration and a BIOS's delay
/// loops use. Parity and channel-check errors (bits 6-7) never happen. There is no sound: the speaker bit is stored.
/// </summary>
public sealed class SystemControlPort : IPortDevice, IDeviceState
{
    private const byte Gate2 = 0x01, WritableBits = 0x0F, RefreshToggle = 0x10, Out2 = 0x20;

    /// <summary>The refresh request toggles every 18 clocks of the PIT's input (channel 1's usual count), ~15.1 µs.</summary>
    private const long RefreshHalfPeriodClocks = 18;

    private readonly Pit8254 _pit;
    private readonly object _lock = new();
    private byte _value;

    /// <summary>Starts as at power-on: everything off, so channel 2's gate is low.</summary>
    public SystemControlPort(Pit8254 pit)
    {
        _pit = pit;
        pit.SetChannel2Gate(false);
    }

    public void Register(IoPortBus ports)
    {
        ports.Register(PcChipset.SystemControl, this);
    }

    /// <summary>The written bits; channel 2's gate they drive is the PIT's own state.</summary>
    public void SaveState(StateWriter writer)
    {
        lock (_lock) writer.WriteByte(_value);
    }

    public void RestoreState(StateReader reader)
    {
        byte value = reader.ReadByte();
        reader.Check((value & ~WritableBits) == 0, "port 0x61 has bits set that cannot be written");
        lock (_lock) _value = value;
    }

    public uint ReadPort(ushort port, int size) =>
        ByteWideAccess.Read(port, size, PcChipset.SystemControl, _ =>
        {
            byte value;
            lock (_lock) value = _value;
            long clocks = (long)((Int128)Stopwatch.GetTimestamp() * PitChannel.InputHz / Stopwatch.Frequency);
            return (byte)(value | (clocks / RefreshHalfPeriodClocks % 2 == 1 ? RefreshToggle : 0) | (_pit.Channel2Output ? Out2 : 0));
        });

    public void WritePort(ushort port, int size, uint value) =>
        ByteWideAccess.Write(port, size, value, PcChipset.SystemControl, (_, b) =>
        {
            // The PIT call stays under this lock so that two writers cannot leave the gate disagreeing with bit 0.
            lock (_lock)
            {
                _value = (byte)(b & WritableBits);
                _pit.SetChannel2Gate((b & Gate2) != 0);
            }
        });
}
