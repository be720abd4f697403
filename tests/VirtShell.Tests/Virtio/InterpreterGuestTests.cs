using System.Text;
using Iced.Intel;
using VirtShell.Cpu.Interpreter;
using VirtShell.Devices.Hypercall;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Tests.Cpu;
using VirtShell.Tests.Devices;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Virtio;

/// <summary>
/// An adapted guest in miniature, run by the x86 interpreter: it brings up virtio-console over virtio-mmio with
/// ordinary MOVs, reads a blob through the hypercall port, prints it through the transmit queue and powers off with
/// a status. The devices see only bus accesses and RAM, as they will under KVM.
/// </summary>
public sealed class InterpreterGuestTests : IDisposable
{
    private const uint Mmio = 0xD000_0000, Block = 0x1000, Name = 0x1100, Buffer = 0x2000;
    private const uint Desc = 0x10000, Avail = 0x11000, Used = 0x12000, Code = 0x8000;
    private const ushort Port = 0x5650;

    private readonly GuestMemory _memory = new();
    private readonly IoPortBus _ports = new();
    private readonly MmioBus _mmio = new();
    private readonly ConsoleChannel _console = new(null);
    private readonly List<MachineExit> _exits = [];
    private readonly VirtioConsole _device;

    public InterpreterGuestTests()
    {
        _memory.AddRam(0, 0x20_0000);
        _device = new VirtioConsole("virtioConsole", _memory, _console, _ => { });
        _mmio.Register(Mmio, VirtioMmioTransport.WindowSize, new VirtioMmioTransport(_device, Mmio, 5, new RecordingInterrupts()), "virtioConsole");
        var blobs = new Dictionary<string, byte[]> { ["greeting"] = Encoding.ASCII.GetBytes("hello from the host blob\n") };
        _ports.Register(Port, HypercallChannel.PortCount, new HypercallChannel("hypercalls", _memory, blobs, _ => { }, _exits.Add), "hypercalls");
    }

    public void Dispose()
    {
        _device.Dispose();
        _console.Dispose();
        _memory.Dispose();
    }

    [Fact]
    public void Guest_ReadsABlob_PrintsItThroughVirtioConsole_AndPowersOffWithItsStatus()
    {
        _memory.Write(Name, "greeting"u8);
        _memory.Write(Code, TestMachine.Assemble(32, Code, a =>
        {
            void Reg(int offset, uint value) => a.mov(__dword_ptr[ebx + offset], value);
            a.mov(ebx, Mmio);
            Reg(0x70, 0);          // reset
            Reg(0x70, 3);          // ACKNOWLEDGE | DRIVER
            Reg(0x24, 1);
            Reg(0x20, 1);          // VIRTIO_F_VERSION_1 (bit 32)
            Reg(0x70, 11);         // FEATURES_OK
            Reg(0x30, 1);          // transmitq0
            Reg(0x38, 8);
            Reg(0x80, Desc);
            Reg(0x90, Avail);
            Reg(0xa0, Used);
            Reg(0x44, 1);
            Reg(0x70, 15);         // DRIVER_OK

            a.xor(esi, esi);
            a.mov(__dword_ptr[esi + (int)Block], HypercallChannel.Magic);
            a.mov(__dword_ptr[esi + (int)Block + 4], HypercallChannel.CallReadBlob);
            a.mov(__dword_ptr[esi + (int)Block + 8], Name);
            a.mov(__dword_ptr[esi + (int)Block + 16], 8);
            a.mov(__dword_ptr[esi + (int)Block + 24], Buffer);
            a.mov(__dword_ptr[esi + (int)Block + 32], 64);
            a.mov(dx, Port);
            a.mov(eax, Block);
            a.@out(dx, eax);
            a.mov(ecx, __dword_ptr[esi + (int)Block + 48]); // bytes copied

            a.mov(__dword_ptr[esi + (int)Desc], Buffer);
            a.mov(__dword_ptr[esi + (int)Desc + 8], ecx);
            a.mov(__word_ptr[esi + (int)Avail + 4], 0);     // ring[0] = descriptor 0
            a.mov(__word_ptr[esi + (int)Avail + 2], 1);     // idx = 1
            Reg(0x50, 1);          // notify transmitq0

            a.mov(__dword_ptr[esi + (int)Block + 4], HypercallChannel.CallPowerOff);
            a.mov(__dword_ptr[esi + (int)Block + 8], 7);
            a.mov(eax, Block);
            a.@out(dx, eax);
            a.hlt();
        }));
        var state = CpuState.RealMode(0, 0);
        state.Cs = SegmentState.Flat32(0x08, code: true);
        state.Ds = state.Es = state.Fs = state.Gs = state.Ss = SegmentState.Flat32(0x10, code: false);
        state.Cr0 = 0x11;
        state.Rip = Code;
        using var cpu = new InterpreterCpu(_memory, _ports, _mmio, null);
        cpu.SetState(state);

        Assert.Equal(CpuExitReason.Halted, cpu.Run().Reason);
        long offset = 0;
        Assert.Equal("hello from the host blob\n", Encoding.ASCII.GetString(_console.ReadFrom(ref offset)));
        var exit = Assert.Single(_exits);
        Assert.Equal(ExitReason.GuestPowerOff, exit.Reason);
        Assert.Equal(7, exit.Status);
    }
}
