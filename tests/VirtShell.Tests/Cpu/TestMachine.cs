using Iced.Intel;
using VirtShell.Cpu.Interpreter;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Cpu;

/// <summary>A scripted interrupt controller: vectors queued by the test are delivered one by one.</summary>
internal sealed class QueuedInterrupts : IInterruptSource
{
    private readonly Queue<int> _pending = new();
    public int Acknowledged { get; private set; }
    public void Raise(int vector) { lock (_pending) _pending.Enqueue(vector); }
    public bool HasPendingInterrupt { get { lock (_pending) return _pending.Count > 0; } }

    public int AcknowledgeInterrupt()
    {
        lock (_pending)
        {
            if (_pending.Count == 0) return -1;
            Acknowledged++;
            return _pending.Dequeue();
        }
    }

    private int _nmis;
    public int NmisTaken { get; private set; }
    public void RaiseNmi() { lock (_pending) _nmis++; }
    public bool HasPendingNmi { get { lock (_pending) return _nmis > 0; } }

    public bool AcknowledgeNmi()
    {
        lock (_pending)
        {
            if (_nmis == 0) return false;
            _nmis--;
            NmisTaken++;
            return true;
        }
    }
}

/// <summary>A port device that records writes and answers reads with a fixed value.</summary>
internal sealed class RecordingPort(uint readValue) : IPortDevice
{
    public List<(ushort Port, int Size, uint Value)> Writes { get; } = [];
    public uint ReadPort(ushort port, int size) => readValue;
    public void WritePort(ushort port, int size, uint value) => Writes.Add((port, size, value));
}

/// <summary>
/// 2 MiB of RAM, the buses and an interpreter CPU; code is assembled with Iced and loaded at CS:IP. With
/// VIRTSHELL_TEST_CPU_TIER=translator every test machine runs the translating tier, compiling each block on its first
/// run, so the CPU tests check that tier too (docs/cpu.md).
/// </summary>
internal sealed class TestMachine : IDisposable
{
    public const ushort CodeSegment = 0x1000;
    public GuestMemory Memory { get; } = new();
    public IoPortBus Ports { get; } = new();
    public MmioBus Mmio { get; } = new();
    public QueuedInterrupts Interrupts { get; } = new();
    public InterpreterCpu Cpu { get; }

    public TestMachine()
    {
        Memory.AddRam(0, 2 << 20);
        Cpu = new InterpreterCpu(Memory, Ports, Mmio, Interrupts);
        if (Environment.GetEnvironmentVariable("VIRTSHELL_TEST_CPU_TIER") == "translator")
        {
            Cpu.Tier = CpuTier.Translator;
            Cpu.TranslateAfter = 1;
        }
    }

    public static byte[] Assemble(int bitness, ulong ip, Action<Assembler> build)
    {
        var a = new Assembler(bitness);
        build(a);
        using var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), ip);
        return ms.ToArray();
    }

    /// <summary>Loads 16-bit code at 1000:0000 with SS:SP = 9000:FFFE and starts the CPU there.</summary>
    public void Load16(Action<Assembler> build)
    {
        Memory.Write((ulong)CodeSegment << 4, Assemble(16, 0, build));
        var s = CpuState.RealMode(CodeSegment, 0);
        s.Ss = SegmentState.Real(0x9000);
        s.Rsp = 0xFFFE;
        s.Ds = SegmentState.Real(CodeSegment);
        s.Es = SegmentState.Real(CodeSegment);
        Cpu.SetState(s);
    }

    /// <summary>Points real-mode interrupt vector <paramref name="vector"/> at <paramref name="cs"/>:<paramref name="ip"/>.</summary>
    public void SetVector(int vector, ushort cs, ushort ip) =>
        Memory.Write((ulong)vector * 4, [(byte)ip, (byte)(ip >> 8), (byte)cs, (byte)(cs >> 8)]);

    public ushort Word(ulong address)
    {
        var b = Memory.Read(address, 2);
        return (ushort)(b[0] | b[1] << 8);
    }

    public void Dispose()
    {
        Cpu.Dispose();
        Memory.Dispose();
    }
}
