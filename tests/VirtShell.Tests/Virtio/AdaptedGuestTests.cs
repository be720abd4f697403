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
using VirtShell.Tests.Kvm;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Virtio;

/// <summary>
/// An adapted guest in miniature, run unchanged by the x86 interpreter and by KVM: it brings up virtio-console over
/// virtio-mmio with ordinary MOVs, reads a blob through the hypercall port, prints it through the transmit queue and
/// powers off with a status. The devices see only bus accesses and RAM, whichever backend runs the CPU.
/// </summary>
[Collection(KvmCollection.Name)]
public sealed class AdaptedGuestTests : IDisposable
{
    private const uint Mmio = 0xD000_0000, Block = 0x1000, Name = 0x1100, Buffer = 0x2000;
    private const uint Desc = 0x10000, Avail = 0x11000, Used = 0x12000, Code = 0x8000;
    private const ushort Port = 0x5650;

    private readonly ConsoleChannel _console = new(null);
    private readonly List<MachineExit> _exits = [];
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _console.Dispose();
    }

    /// <summary>Puts the devices on the buses and the guest in RAM; returns the flat 32-bit state it starts from.</summary>
    private CpuState Prepare(GuestMemory memory, IoPortBus ports, MmioBus mmio)
    {
        var device = new VirtioConsole("virtioConsole", memory, _console, _ => { });
        _owned.Add(device);
        mmio.Register(Mmio, VirtioMmioTransport.WindowSize, new VirtioMmioTransport(device, Mmio, 5, new RecordingInterrupts()), "virtioConsole");
        var blobs = new Dictionary<string, byte[]> { ["greeting"] = Encoding.ASCII.GetBytes("hello from the host blob\n") };
        ports.Register(Port, HypercallChannel.PortCount, new HypercallChannel("hypercalls", memory, blobs, _ => { }, _exits.Add), "hypercalls");
        memory.Write(Name, "greeting"u8);
        memory.Write(Code, Guest());
        var state = CpuState.RealMode(0, 0);
        state.Cs = SegmentState.Flat32(0x08, code: true);
        state.Ds = state.Es = state.Fs = state.Gs = state.Ss = SegmentState.Flat32(0x10, code: false);
        state.Cr0 = 0x11;
        state.Rip = Code;
        return state;
    }

    private void AssertTheGuestDidItsWork()
    {
        long offset = 0;
        Assert.Equal("hello from the host blob\n", Encoding.ASCII.GetString(_console.ReadFrom(ref offset)));
        var exit = Assert.Single(_exits);
        Assert.Equal(ExitReason.GuestPowerOff, exit.Reason);
        Assert.Equal(7, exit.Status);
    }

    [Fact]
    public void OnTheInterpreter_TheGuestReadsABlob_PrintsIt_AndPowersOff()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x20_0000);
        var ports = new IoPortBus();
        var mmio = new MmioBus();
        var state = Prepare(memory, ports, mmio);
        using var cpu = new InterpreterCpu(memory, ports, mmio, null);
        cpu.SetState(state);
        Assert.Equal(CpuExitReason.Halted, cpu.Run().Reason);
        AssertTheGuestDidItsWork();
    }

    [KvmFact]
    public void OnKvm_TheSameGuestReadsABlob_PrintsIt_AndPowersOff()
    {
        using var m = new KvmTestMachine(0x20_0000);
        m.Cpu.SetState(Prepare(m.Memory, m.Ports, m.Mmio));
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        AssertTheGuestDidItsWork();
    }

    /// <summary>The guest; it ends with a write to port 0xF4 (which stops a KVM test machine) and HLT.</summary>
    private static byte[] Guest() =>
        TestMachine.Assemble(32, Code, a =>
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
            a.@out(0xF4, al);
            a.hlt();
        });
}
