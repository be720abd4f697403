using VirtShell.Cpu.Interpreter;
using VirtShell.Devices.Hypercall;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Models.Comparison;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Comparison;

/// <summary>
/// The kinds of ring3-loop.bin that Compare-VirtModel sets in its parameter block, run by the interpreter on buses
/// of the test's own: what each loop does at the port or MMIO bus, and the hypercall power-off it uses where a
/// machine has no isa-debug-exit (the paravirtual model, which this host may not be able to run).
/// </summary>
public sealed class Ring3LoopKindsTests : IDisposable
{
    private const ulong NotifyRegister = 0xD000_0050;

    private readonly GuestMemory _memory = new();
    private readonly IoPortBus _ports = new();
    private readonly MmioBus _mmio = new();
    private readonly Recorder _recorder = new();
    private readonly List<MachineExit> _exits = [];
    private readonly InterpreterCpu _cpu;

    public Ring3LoopKindsTests()
    {
        _memory.AddRam(0, 16 << 20);
        _cpu = new InterpreterCpu(_memory, _ports, _mmio, null);
        _ports.Register(0x3F8, 8, _recorder, "uart");
        _ports.Register(0x2E0, 1, _recorder, "unclaimed");
        _mmio.Register(0xD000_0000, 0x200, _recorder, "virtio-mmio");
        _ports.Register(0x5650, HypercallChannel.PortCount, new HypercallChannel("hypercalls", _memory, new Dictionary<string, byte[]>(), _ => { }, exit =>
        {
            _exits.Add(exit);
            _cpu.RequestExit();
        }), "hypercalls");
    }

    public void Dispose()
    {
        _cpu.Dispose();
        _memory.Dispose();
    }

    private void Run(Ring3LoopKind kind, long iterations)
    {
        var guests = new ComparisonGuests(Path.GetDirectoryName(RepoPaths.RequireGuest("guests/ring3-loop.bin"))!);
        _memory.Write(0x7C00, guests.Ring3LoopImage(kind, iterations));
        _cpu.SetState(CpuState.RealMode(0, 0x7C00));
        var result = _cpu.Run();
        Assert.True(result.Reason == CpuExitReason.ExitRequested, $"{result.Reason}: {result.Detail}");
        var exit = Assert.Single(_exits);
        Assert.Equal(ExitReason.GuestPowerOff, exit.Reason);
        Assert.Equal(0, exit.Status);
        Assert.Equal((ushort)0x1B, _cpu.GetState().Cs.Selector);    // still in ring 3
    }

    [Fact]
    public void Without_a_debug_exit_the_cpu_loop_powers_off_through_the_hypercall_channel()
    {
        Run(Ring3LoopKind.Cpu, 1000);
        Assert.Empty(_recorder.Ports.Where(p => p != 0x2E0));
        Assert.Empty(_recorder.MmioWrites);
    }

    [Fact]
    public void The_port_exit_loop_writes_the_unclaimed_port_once_per_iteration()
    {
        Run(Ring3LoopKind.PortExits, 777);
        // Then the power-off loop's own writes there, if any, until the CPU sees the exit request.
        Assert.InRange(_recorder.Ports.Count(p => p == 0x2E0), 777, 800);
    }

    [Fact]
    public void The_uart_loop_polls_LSR_before_each_byte_of_text_with_a_line_end_each_64()
    {
        Run(Ring3LoopKind.UartBytes, 130);
        Assert.Equal(130, _recorder.Ports.Count(p => p == 0x3FD));
        Assert.Equal(130, _recorder.UartBytes.Count);
        Assert.Equal(2, _recorder.UartBytes.Count(b => b == '\n'));
        Assert.All(_recorder.UartBytes, b => Assert.True(b == '\n' || b is >= (byte)'0' and <= (byte)'o'));
    }

    [Fact]
    public void The_notify_loop_writes_queue_0_to_the_virtio_mmio_QueueNotify_register()
    {
        Run(Ring3LoopKind.VirtioNotify, 500);
        Assert.Equal(500, _recorder.MmioWrites.Count);
        Assert.All(_recorder.MmioWrites, w => Assert.Equal((NotifyRegister, 4, 0UL), w));
    }

    [Fact]
    public void An_image_without_the_parameter_block_is_refused_naming_it()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        File.WriteAllBytes(Path.Combine(dir, ComparisonGuests.Ring3Loop), new byte[512]);
        var e = Assert.Throws<ComparisonException>(() => new ComparisonGuests(dir).Ring3LoopImage(Ring3LoopKind.Cpu, 1));
        Assert.Contains(Path.Combine(dir, ComparisonGuests.Ring3Loop), e.Message);
        Assert.Contains("LOOP", e.Message);
    }

    /// <summary>Every port access and MMIO write the guest makes; LSR reads say the transmitter is empty.</summary>
    private sealed class Recorder : IPortDevice, IMmioDevice
    {
        public List<ushort> Ports { get; } = [];
        public List<byte> UartBytes { get; } = [];
        public List<(ulong Address, int Size, ulong Value)> MmioWrites { get; } = [];

        public uint ReadPort(ushort port, int size)
        {
            Ports.Add(port);
            return port == 0x3FD ? 0x60u : 0xFFu;
        }

        public void WritePort(ushort port, int size, uint value)
        {
            Ports.Add(port);
            if (port == 0x3F8) UartBytes.Add((byte)value);
        }

        public ulong ReadMmio(ulong address, int size) => 0;
        public void WriteMmio(ulong address, int size, ulong value) => MmioWrites.Add((address, size, value));
    }
}
