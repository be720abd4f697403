using System.Diagnostics;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// The 8254 programmable interval timer at ports 0x40-0x43; channel 0's OUT drives IRQ 0. Counters are computed
/// from the host clock when read, so a guest that calibrates by reading them sees real time. A timer thread raises
/// IRQ 0 at the programmed rate: an edge per period in modes 2 and 3, one at terminal count in modes 0, 1, 4, 5.
/// </summary>
/// <remarks>
/// Channel 1 counts but drives nothing (refresh is not emulated). Channel 2's gate and OUT belong to port 0x61
/// (<see cref="SystemControlPort"/>); its gate is high until something drives it.
/// </remarks>
public sealed class Pit8254 : IPortDevice, IDeviceState, IDisposable
{
    private const int Irq = 0;

    private readonly object _lock = new();
    private readonly PitChannel[] _channels = [new(gateWired: false), new(gateWired: false), new(gateWired: true)];
    private readonly InterruptLine _irq;
    private readonly DeadlineTimer _timer;
    private long _edgePeriod;          // 0: the next edge is a one-shot terminal count
    private bool _holdOutputHigh;      // modes 0 and 1: OUT stays high after terminal count

    public Pit8254(IInterruptController irq)
    {
        _irq = irq.Connect(Irq);
        _timer = new DeadlineTimer(_lock, "8254 PIT", RaiseIrq0);
    }

    public void Register(IoPortBus ports)
    {
        ports.Register(PcChipset.Pit, this);
    }

    public uint ReadPort(ushort port, int size)
    {
        lock (_lock)
        {
            long now = Stopwatch.GetTimestamp();
            return ByteWideAccess.Read(port, size, PcChipset.Pit,
                offset => offset < 3 ? _channels[offset].Read(now) : (byte)0xFF); // the control word cannot be read back
        }
    }

    public void WritePort(ushort port, int size, uint value)
    {
        lock (_lock)
        {
            long now = Stopwatch.GetTimestamp();
            ByteWideAccess.Write(port, size, value, PcChipset.Pit, (offset, b) =>
            {
                if (offset == 3) WriteControl(b, now);
                else if (_channels[offset].WriteCount(b, now) && offset == 0) ScheduleIrq0();
            });
        }
    }

    /// <summary>Drives channel 2's GATE input (port 0x61 bit 0).</summary>
    public void SetChannel2Gate(bool high)
    {
        lock (_lock) _channels[2].SetGate(high, Stopwatch.GetTimestamp());
    }

    /// <summary>Channel 2's OUT pin now (port 0x61 bit 5).</summary>
    public bool Channel2Output
    {
        get { lock (_lock) return _channels[2].Output(Stopwatch.GetTimestamp()); }
    }

    private void WriteControl(byte value, long now)
    {
        int select = value >> 6;
        int access = value >> 4 & 3;
        if (select == 3)
        {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 pick channels 0-2.
            for (int c = 0; c < 3; c++)
            {
                if ((value & 2 << c) == 0) continue;
                if ((value & 0x10) == 0) _channels[c].LatchStatus(now);
                if ((value & 0x20) == 0) _channels[c].LatchCount(now);
            }
            return;
        }
        if (access == 0)
        {
            _channels[select].LatchCount(now);
            return;
        }
        _channels[select].Program(access, value >> 1 & 7, (value & 1) != 0, now);
        if (select == 0) ScheduleIrq0();
    }

    /// <summary>Channel 0 was reprogrammed or reloaded: OUT starts over, and so does the edge schedule.</summary>
    private void ScheduleIrq0()
    {
        _irq.Set(false);
        ArmIrq0(Stopwatch.GetTimestamp());
    }

    /// <summary>Schedules channel 0's next edge at or after <paramref name="now"/>: on the count load's grid when periodic.</summary>
    private void ArmIrq0(long now)
    {
        var channel = _channels[0];
        if (!channel.Counting)
        {
            _timer.Schedule(DeadlineTimer.Never);
            return;
        }
        long period = channel.Reload * Stopwatch.Frequency / PitChannel.InputHz;
        if (channel.Mode is 2 or 3)
        {
            _edgePeriod = Math.Max(period, DeadlineTimer.MinPeriod);
            _holdOutputHigh = false;
        }
        else
        {
            // Channel 0's gate is tied high, so modes 1 and 5 start on the count write as 0 and 4 do.
            _edgePeriod = 0;
            _holdOutputHigh = channel.Mode is 0 or 1;
        }
        long first = channel.StartTimestamp + (_edgePeriod == 0 ? period : _edgePeriod);
        // A restored channel loaded long ago goes on with its next edge, not with every one it missed.
        if (_edgePeriod != 0 && first < now) first += ((now - first) / _edgePeriod + 1) * _edgePeriod;
        _timer.Schedule(first);
    }

    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            foreach (var channel in _channels) channel.SaveState(writer);
            writer.WriteBool(_irq.Asserted);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_lock)
        {
            foreach (var channel in _channels) channel.RestoreState(reader);
            _irq.RestoreLevel(reader.ReadBool());
            ArmIrq0(Stopwatch.GetTimestamp());
        }
    }

    private long RaiseIrq0(long edge, long now)
    {
        _irq.Set(true);
        if (_edgePeriod == 0)
        {
            if (!_holdOutputHigh) _irq.Set(false);
            return DeadlineTimer.Never;
        }
        _irq.Set(false);
        // Edges stay on the grid set by the count load, so the rate does not drift; if the timer thread was held up
        // for whole periods, the missed edges merge into this one, as they would in the PIC.
        return edge + ((now - edge) / _edgePeriod + 1) * _edgePeriod;
    }

    public void Dispose() => _timer.Dispose();
}
