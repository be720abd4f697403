using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices;

/// <summary>
/// The PC/AT interrupt controller: a master and a slave 8259A, the slave's INT wired to the master's IR2. Devices
/// raise IRQ 0..15 on it; the interpreter asks it for the vector to deliver.
/// </summary>
/// <remarks>
/// Timers and console input raise lines from their own threads while the vCPU thread reads registers and
/// acknowledges, so every entry point takes one lock. The INT output is also kept in a volatile field because the
/// interpreter polls it between instructions and must not take a lock that often.
/// </remarks>
public sealed class Pic8259Pair : IPortDevice, IInterruptController, IInterruptSource, IDeviceState
{
    private const int CascadeLine = 2;

    private readonly object _lock = new();
    private readonly Pic8259 _master = new(isMaster: true);
    private readonly Pic8259 _slave = new(isMaster: false);
    private readonly WakeSignal _wake;
    private readonly InterruptInputs _inputs;
    private volatile bool _output;

    public Pic8259Pair(WakeSignal wake)
    {
        _wake = wake;
        _inputs = new InterruptInputs(16, SetIrq);
    }

    public void Register(IoPortBus ports)
    {
        ports.Register(PcChipset.MasterPic, this);
        ports.Register(PcChipset.SlavePic, this);
    }

    public bool HasPendingInterrupt => _output;

    public InterruptLine Connect(int irq) => _inputs.Connect(irq);

    public void SetIrq(int irq, bool level)
    {
        if ((uint)irq > 15) throw new ArgumentOutOfRangeException(nameof(irq), irq, "the 8259 pair has IRQ 0..15");
        // On the AT bus the old IRQ2 pin is wired to the slave's IR1 (IRQ9): the master's IR2 is the cascade.
        if (irq == CascadeLine) irq = 9;
        lock (_lock)
        {
            if (irq < 8) _master.SetInput(irq, level);
            else _slave.SetInput(irq - 8, level);
            Update();
        }
    }

    public int AcknowledgeInterrupt()
    {
        lock (_lock)
        {
            if (!_master.Initialized) return -1;
            int vector;
            int line = _master.PendingRequest();
            if (line < 0)
            {
                // The request went away before INTA: the datasheet's answer is IR7's vector with nothing put in
                // service, which guests know as the spurious interrupt.
                vector = _master.VectorBase + 7;
            }
            else
            {
                _master.Acknowledge(line);
                if (line != CascadeLine) vector = _master.VectorBase + line;
                else
                {
                    int slaveLine = _slave.PendingRequest();
                    if (slaveLine < 0) vector = _slave.VectorBase + 7; // spurious on the slave; the master's IR2 stays in service
                    else
                    {
                        _slave.Acknowledge(slaveLine);
                        vector = _slave.VectorBase + slaveLine;
                    }
                }
            }
            Update();
            return vector;
        }
    }

    public uint ReadPort(ushort port, int size)
    {
        lock (_lock)
        {
            var (chip, registers) = ChipAt(port);
            uint value = ByteWideAccess.Read(port, size, registers, chip.Read);
            Update(); // a poll-mode read acknowledges
            return value;
        }
    }

    public void WritePort(ushort port, int size, uint value)
    {
        lock (_lock)
        {
            var (chip, registers) = ChipAt(port);
            ByteWideAccess.Write(port, size, value, registers, chip.Write);
            Update();
        }
    }

    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            _master.SaveState(writer);
            _slave.SaveState(writer);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_lock)
        {
            _master.RestoreState(reader);
            _slave.RestoreState(reader);
            Update();
        }
    }

    private (Pic8259 Chip, BusClaim Registers) ChipAt(ushort port) =>
        port >= PcChipset.SlavePic.Start ? (_slave, PcChipset.SlavePic) : (_master, PcChipset.MasterPic);

    private void Update()
    {
        _master.SetCascadeInput(CascadeLine, _slave.PendingRequest() >= 0);
        bool output = _master.PendingRequest() >= 0;
        bool rose = output && !_output;
        _output = output; // before the wake-up, so the woken vCPU sees the request
        if (rose) _wake.Set();
    }
}
