using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices.RiscV;

/// <summary>
/// The platform-level interrupt controller in SiFive's layout, as QEMU's virt board has it: source priorities at 0,
/// pending bits at 0x1000, per-context enables at 0x2000 + 0x80·c, threshold and claim/complete at 0x200000 + 0x1000·c.
/// One hart, two contexts: 0 is its M-mode (MEIP), 1 its S-mode (SEIP). Sources are level-triggered: a source is
/// pending while its line is high and it is not claimed; completing a claim whose line is still high makes it pending
/// again. Input 0 does not exist, as in the spec. A restore drives both outputs to what the restored registers say,
/// which sets the hart's MEIP and SEIP (the hart's own section does not carry them).
/// </summary>
public sealed class Plic : IInterruptController, IMmioDevice, IDeviceState
{
    /// <summary>Sources 1..<see cref="Sources"/>-1 (QEMU virt has 96 inputs, the device tree says riscv,ndev = 95).</summary>
    public const int Sources = 96;
    public const int Contexts = 2;
    /// <summary>The window the platform maps.</summary>
    public const ulong Size = 0x600000;

    private readonly object _lock = new();
    private readonly InterruptInputs _inputs;
    private readonly Action<int, bool> _output;
    private readonly uint[] _priority = new uint[Sources];
    private readonly bool[] _level = new bool[Sources], _pending = new bool[Sources], _claimed = new bool[Sources];
    private readonly bool[,] _enabled = new bool[Contexts, Sources];
    private readonly uint[] _threshold = new uint[Contexts];
    private readonly bool[] _outputLevel = new bool[Contexts];

    /// <param name="baseAddress">Where the window is mapped.</param>
    /// <param name="output">Sets context c's interrupt output (0: the hart's MEIP, 1: its SEIP).</param>
    public Plic(ulong baseAddress, Action<int, bool> output)
    {
        Base = baseAddress;
        _output = output;
        _inputs = new InterruptInputs(Sources, Drive);
    }

    public ulong Base { get; }

    public InterruptLine Connect(int irq)
    {
        if (irq == 0) throw new ArgumentOutOfRangeException(nameof(irq), irq, "PLIC source 0 does not exist; use 1..95");
        return _inputs.Connect(irq);
    }

    private void Drive(int irq, bool high)
    {
        lock (_lock)
        {
            _level[irq] = high;
            if (high && !_claimed[irq]) _pending[irq] = true;
            Update();
        }
    }

    public ulong ReadMmio(ulong address, int size)
    {
        ulong offset = address - Base;
        lock (_lock)
        {
            uint value = offset switch
            {
                < 0x1000 => offset / 4 < Sources ? _priority[offset / 4] : 0,
                >= 0x1000 and < 0x1080 => Bits((int)(offset - 0x1000) / 4, i => _pending[i]),
                >= 0x2000 and < 0x200000 => Context((offset - 0x2000) / 0x80) is int c && (offset & 0x7F) < 0x80
                    ? Bits((int)(offset & 0x7F) / 4, i => _enabled[c, i]) : 0,
                >= 0x200000 => Context((offset - 0x200000) / 0x1000) is int c
                    ? (offset & 0xFFF) switch { 0 => _threshold[c], 4 => Claim(c), _ => 0u } : 0,
                _ => 0,
            };
            return size == 8 ? value : value & (uint)((1UL << (8 * size)) - 1);
        }
    }

    public void WriteMmio(ulong address, int size, ulong value)
    {
        ulong offset = address - Base;
        uint v = (uint)value;
        lock (_lock)
        {
            switch (offset)
            {
                case < 0x1000:
                    if (offset / 4 < Sources && offset / 4 != 0) _priority[offset / 4] = v & 7;
                    break;
                case >= 0x2000 and < 0x200000:
                    if (Context((offset - 0x2000) / 0x80) is int c)
                        for (int bit = 0; bit < 32; bit++)
                        {
                            int irq = (int)(offset & 0x7F) / 4 * 32 + bit;
                            if (irq > 0 && irq < Sources) _enabled[c, irq] = ((v >> bit) & 1) != 0;
                        }
                    break;
                case >= 0x200000:
                    if (Context((offset - 0x200000) / 0x1000) is int context)
                    {
                        if ((offset & 0xFFF) == 0) _threshold[context] = v & 7;
                        else if ((offset & 0xFFF) == 4 && v > 0 && v < Sources && _claimed[v])
                        {
                            _claimed[v] = false;
                            if (_level[v]) _pending[v] = true;
                        }
                    }
                    break;
            }
            Update();
        }
    }

    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            for (int irq = 1; irq < Sources; irq++)
            {
                writer.WriteByte((byte)_priority[irq]);
                writer.WriteByte((byte)((_level[irq] ? 1 : 0) | (_pending[irq] ? 2 : 0) | (_claimed[irq] ? 4 : 0)
                    | (_enabled[0, irq] ? 8 : 0) | (_enabled[1, irq] ? 16 : 0)));
            }
            foreach (uint threshold in _threshold) writer.WriteByte((byte)threshold);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_lock)
        {
            for (int irq = 1; irq < Sources; irq++)
            {
                byte priority = reader.ReadByte(), bits = reader.ReadByte();
                reader.Check(priority < 8 && bits < 32, $"source {irq}: priority {priority}, flags {bits:x} out of range");
                _priority[irq] = priority;
                _level[irq] = (bits & 1) != 0;
                _pending[irq] = (bits & 2) != 0;
                _claimed[irq] = (bits & 4) != 0;
                _enabled[0, irq] = (bits & 8) != 0;
                _enabled[1, irq] = (bits & 16) != 0;
            }
            for (int c = 0; c < Contexts; c++)
            {
                byte threshold = reader.ReadByte();
                reader.Check(threshold < 8, $"context {c}: threshold {threshold} out of range");
                _threshold[c] = threshold;
            }
            for (int c = 0; c < Contexts; c++)
            {
                _outputLevel[c] = Best(c) != 0;
                _output(c, _outputLevel[c]);
            }
        }
    }

    private static int? Context(ulong index) => index < Contexts ? (int)index : null;

    private uint Bits(int word, Func<int, bool> set)
    {
        uint value = 0;
        for (int bit = 0; bit < 32; bit++)
        {
            int irq = word * 32 + bit;
            if (irq < Sources && set(irq)) value |= 1u << bit;
        }
        return value;
    }

    /// <summary>The highest-priority pending source enabled for the context above its threshold (lowest ID on ties), or 0.</summary>
    private int Best(int context)
    {
        int best = 0;
        uint bestPriority = _threshold[context];
        for (int irq = 1; irq < Sources; irq++)
            if (_pending[irq] && _enabled[context, irq] && _priority[irq] > bestPriority)
            {
                best = irq;
                bestPriority = _priority[irq];
            }
        return best;
    }

    private uint Claim(int context)
    {
        int irq = Best(context);
        if (irq != 0)
        {
            _pending[irq] = false;
            _claimed[irq] = true;
        }
        Update();
        return (uint)irq;
    }

    private void Update()
    {
        for (int c = 0; c < Contexts; c++)
        {
            bool level = Best(c) != 0;
            if (level == _outputLevel[c]) continue;
            _outputLevel[c] = level;
            _output(c, level);
        }
    }
}
