using VirtShell.Cpu.Kvm;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Kvm;

/// <summary>
/// A bare KVM machine for backend tests: RAM, buses, one vCPU. Port 0x80 records what the guest writes and answers
/// reads from a queue; a write to port 0xF4 asks the vCPU to exit, which is how these guests end.
/// </summary>
internal sealed class KvmTestMachine : IDisposable
{
    public const ushort RecordPort = 0x80, StopPort = 0xF4;

    public GuestMemory Memory { get; } = new();
    public IoPortBus Ports { get; } = new();
    public MmioBus Mmio { get; } = new();
    public KvmVirtualMachine Vm { get; }
    public KvmCpu Cpu { get; }
    public RecordingPort Recorder { get; } = new();

    public KvmTestMachine(ulong memorySize = 0x100000)
    {
        Memory.AddRam(0, memorySize);
        Vm = new KvmVirtualMachine(Memory);
        Cpu = Vm.CreateCpu(Ports, Mmio);
        Ports.Register(RecordPort, 1, Recorder, "recorder");
        Ports.Register(StopPort, 1, new StopPortDevice(Cpu), "stop");
    }

    /// <summary>Loads a real-mode guest at 0000:7C00 (nasm source, <c>org 0x7c00</c> is prepended) and returns its state.</summary>
    public CpuState LoadRealMode(string source) => LoadRealMode(AssembleRealMode(source));

    public static byte[] AssembleRealMode(string source) => Nasm.Assemble("bits 16\norg 0x7c00\n" + source);

    public CpuState LoadRealMode(byte[] image)
    {
        Memory.Write(0x7C00, image);
        var state = CpuState.RealMode(0, 0x7C00);
        state.Rsp = 0x7C00;
        Cpu.SetState(state);
        return state;
    }

    /// <summary>Runs until the guest writes the stop port (or another exit); fails the test after the timeout.</summary>
    public CpuExit RunToExit(TimeSpan? timeout = null)
    {
        CpuExit? exit = null;
        var thread = new Thread(() => exit = Cpu.Run()) { IsBackground = true };
        thread.Start();
        if (!thread.Join(timeout ?? TimeSpan.FromSeconds(20)))
        {
            Cpu.RequestExit();
            thread.Join();
            throw new TimeoutException($"the guest did not exit in time; it was at\n{Cpu.GetState().Dump()}");
        }
        return exit!;
    }

    public void Dispose()
    {
        Vm.Dispose();
        Memory.Dispose();
    }

    public sealed class RecordingPort : IPortDevice
    {
        public List<(int Size, uint Value)> Writes { get; } = [];
        public Queue<uint> Answers { get; } = new();

        public uint ReadPort(ushort port, int size) => Answers.TryDequeue(out var v) ? v : 0xFFFF_FFFF;
        public void WritePort(ushort port, int size, uint value) => Writes.Add((size, value));
    }

    private sealed class StopPortDevice(IVirtualCpu cpu) : IPortDevice
    {
        public uint ReadPort(ushort port, int size) => 0;
        public void WritePort(ushort port, int size, uint value) => cpu.RequestExit();
    }
}
