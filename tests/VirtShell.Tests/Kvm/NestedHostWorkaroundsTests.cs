using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VirtShell.Cpu.Kvm;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Cpu.Kvm.NestedHost;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Kvm;

/// <summary>
/// The nested-host workarounds driven through <see cref="KvmExitDispatch"/> as a PVM host drives them, with a vCPU
/// made of fields (<see cref="IVcpuAccess"/>) over identity-mapped RAM, so no /dev/kvm is needed: the emulation
/// failures they complete, the INT3 they keep on the guest's page-fault handler, and the SYSCALL they finish.
/// </summary>
public sealed unsafe class NestedHostWorkaroundsTests : IDisposable
{
    private const ulong Idt = 0x1000, Handler = 0x6000, Stack = 0x8000, Lstar = 0xA000;
    private const ushort KernelCs = 0x10, UserCs = 0x33;
    private const int BreakpointVector = 3, PageFaultVector = 14;

    private readonly GuestMemory _memory = new();
    private readonly FakeVcpu _vcpu = new();
    private readonly PageFaultHandlerPatch _patch = new();
    private readonly NestedHostWorkarounds _workarounds;
    private readonly KvmExitDispatch _dispatch;
    private readonly byte* _run = (byte*)NativeMemory.AllocZeroed(2 * 4096);

    public NestedHostWorkaroundsTests()
    {
        _memory.AddRam(0, 0x10_0000);
        _workarounds = new NestedHostWorkarounds(_vcpu, _memory, _patch);
        _dispatch = new KvmExitDispatch(new IoPortBus(), new MmioBus(), _workarounds);
        // A 64-bit kernel at CPL 0 with its IDT at Idt.
        _vcpu.Sregs.Efer = X86.EferLma | X86.EferLme;
        _vcpu.Sregs.Cs = new KvmSegment { Selector = KernelCs, L = 1, Present = 1, S = 1, Type = 0xB };
        _vcpu.Sregs.Ss = new KvmSegment { Selector = KernelCs + 8 };
        _vcpu.Sregs.Idt = new KvmDtable { Base = Idt, Limit = 256 * 16 - 1 };
        _vcpu.Regs.Rsp = Stack;
    }

    public void Dispose()
    {
        NativeMemory.Free(_run);
        _memory.Dispose();
    }

    private void WriteGate(int vector, ulong handler, int type = 0xE)
    {
        Span<byte> gate = stackalloc byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(gate, (ushort)handler);
        BinaryPrimitives.WriteUInt16LittleEndian(gate[2..], KernelCs);
        gate[5] = (byte)(0x80 | type);
        BinaryPrimitives.WriteUInt16LittleEndian(gate[6..], (ushort)(handler >> 16));
        BinaryPrimitives.WriteUInt32LittleEndian(gate[8..], (uint)(handler >> 32));
        _memory.Write(Idt + (ulong)vector * 16, gate);
    }

    /// <summary>KVM_EXIT_INTERNAL_ERROR: its emulator failed on an instruction whose first byte is <paramref name="opcode"/>.</summary>
    private CpuExit? EmulationFailure(byte opcode)
    {
        var error = KvmExitDispatchTests.Exit<KvmRunInternal>(_run, KvmApi.ExitReason.InternalError);
        error->Suberror = (uint)KvmApi.InternalErrorSuberror.Emulation;
        error->NData = 2;
        error->Data[0] = 1;                       // the instruction bytes are there
        error->Data[1] = 1 | (ulong)opcode << 8;  // length 1, then the bytes
        return _dispatch.Dispatch(_run);
    }

    /// <summary>Any port exit, on which the workarounds look at the guest's page-fault handler.</summary>
    private void PortExit()
    {
        *KvmExitDispatchTests.Exit<KvmRunIo>(_run, KvmApi.ExitReason.Io) =
            new KvmRunIo { Direction = KvmApi.IoOut, Size = 1, Port = 0x80, Count = 1, DataOffset = 4096 };
        Assert.Null(_dispatch.Dispatch(_run));
    }

    [Fact]
    public void Fwait_with_no_pending_x87_exception_is_stepped_over_and_with_one_stays_a_failure()
    {
        _vcpu.Regs.Rip = 0x5000;
        Assert.Null(EmulationFailure(0x9B));
        Assert.Equal(0x5001UL, _vcpu.Regs.Rip);
        Assert.Equal(1, _workarounds.CompletedUnemulated);

        _vcpu.Fsw = 1 << 7; // error summary: FWAIT must raise #MF, which is not ours to do
        Assert.Equal(CpuExitReason.InternalError, EmulationFailure(0x9B)?.Reason);
        Assert.Equal(0x5001UL, _vcpu.Regs.Rip);
        Assert.Equal(CpuExitReason.InternalError, EmulationFailure(0x0F)?.Reason); // not an instruction we complete
    }

    [Fact]
    public void Int3_in_a_64_bit_kernel_is_delivered_through_idt_gate_3_with_the_cpus_frame()
    {
        WriteGate(BreakpointVector, 0xFFFF_FFFF_8100_1234);
        _vcpu.Regs.Rip = 0x5000;
        _vcpu.Regs.Rflags = X86.FlagFixed | X86.FlagIf | X86.FlagTf;

        Assert.Null(EmulationFailure(0xCC));

        Assert.Equal(0xFFFF_FFFF_8100_1234UL, _vcpu.Regs.Rip);
        Assert.Equal(Stack - 40, _vcpu.Regs.Rsp);
        Assert.Equal((ulong)X86.FlagFixed, _vcpu.Regs.Rflags); // an interrupt gate clears IF, and TF goes too
        var frame = _memory.Read(Stack - 40, 40);
        Assert.Equal(
            [0x5001UL, KernelCs, (ulong)(X86.FlagFixed | X86.FlagIf | X86.FlagTf), Stack, KernelCs + 8UL],
            Enumerable.Range(0, 5).Select(i => BinaryPrimitives.ReadUInt64LittleEndian(frame.AsSpan(i * 8))));
    }

    [Fact]
    public void Int3_outside_a_64_bit_kernel_is_left_to_fail()
    {
        WriteGate(BreakpointVector, 0x1234);
        _vcpu.Sregs.Cs.Selector = UserCs;
        Assert.Equal(CpuExitReason.InternalError, EmulationFailure(0xCC)?.Reason);
        Assert.Equal(0, _workarounds.CompletedUnemulated);
    }

    /// <summary>A page-fault handler that starts with ENDBR64, patched on a port exit, and LSTAR set.</summary>
    private void PatchThePageFaultHandler()
    {
        WriteGate(PageFaultVector, Handler);
        _memory.Write(Handler, [0xF3, 0x0F, 0x1E, 0xFA, 0x90]);
        PortExit();
        _vcpu.Msrs[X86.MsrLstar] = Lstar;
    }

    [Fact]
    public void A_port_exit_puts_an_int3_on_the_page_fault_handler_and_keeps_the_displaced_instruction()
    {
        PatchThePageFaultHandler();

        Assert.Equal(Handler, _patch.Handler);
        Assert.Equal(0xCC, _memory.Read(Handler, 1)[0]);
        Assert.Equal(0xF3, _patch.DisplacedByte);
    }

    [Fact]
    public void A_fault_at_lstar_from_ring_3_becomes_the_syscall_the_host_left_half_done()
    {
        PatchThePageFaultHandler();
        _vcpu.Msrs[X86.MsrStar] = (ulong)0x23 << 48 | (ulong)KernelCs << 32;
        _vcpu.Msrs[X86.MsrSfmask] = X86.FlagIf | X86.FlagDf;
        // The page fault's frame: error code, RIP = LSTAR, CS = user, RFLAGS, RSP = the user's stack, SS.
        PushFaultFrame(rip: Lstar, cs: UserCs, userRsp: 0x7_0000);
        _vcpu.Regs.R11 = X86.FlagFixed | X86.FlagIf | X86.FlagDf | X86.FlagRf;

        Assert.Null(EmulationFailure(0xCC));

        Assert.Equal(Lstar, _vcpu.Regs.Rip);
        Assert.Equal(0x7_0000UL, _vcpu.Regs.Rsp);
        Assert.Equal((ulong)X86.FlagFixed, _vcpu.Regs.Rflags);
        Assert.Equal(KernelCs, _vcpu.Sregs.Cs.Selector);
        Assert.Equal(1, _vcpu.Sregs.Cs.L);
        Assert.Equal(KernelCs + 8, _vcpu.Sregs.Ss.Selector);
        Assert.Equal(1, _workarounds.CompletedSyscalls);
    }

    [Fact]
    public void Any_other_fault_runs_the_handler_on_past_the_displaced_instruction()
    {
        PatchThePageFaultHandler();
        PushFaultFrame(rip: 0x40_0000, cs: UserCs, userRsp: 0x7_0000); // an ordinary user page fault

        Assert.Null(EmulationFailure(0xCC));

        Assert.Equal(Handler + 4, _vcpu.Regs.Rip);
        Assert.Equal(KernelCs, _vcpu.Sregs.Cs.Selector);
        Assert.Equal(0, _workarounds.CompletedSyscalls);
        Assert.Equal(1, _workarounds.CompletedUnemulated);
    }

    private void PushFaultFrame(ulong rip, ushort cs, ulong userRsp)
    {
        ulong[] frame = [0x4, rip, cs, X86.FlagFixed | X86.FlagIf, userRsp, 0x2B];
        var bytes = new byte[frame.Length * 8];
        for (int i = 0; i < frame.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), frame[i]);
        _vcpu.Regs.Rsp = Stack - (ulong)bytes.Length;
        _memory.Write(_vcpu.Regs.Rsp, bytes);
        _vcpu.Regs.Rip = Handler; // the INT3 at the handler's first byte
    }

    /// <summary>A vCPU of fields; its page tables map the first MiB one to one and nothing else.</summary>
    private sealed class FakeVcpu : IVcpuAccess
    {
        public KvmRegs Regs;
        public KvmSregs Sregs;
        public ushort Fsw;
        public Dictionary<uint, ulong> Msrs { get; } = [];

        public KvmRegs GetRegs() => Regs;
        public void SetRegs(KvmRegs regs) => Regs = regs;
        public KvmSregs GetSregs() => Sregs;
        public void SetSregs(KvmSregs sregs) => Sregs = sregs;
        public ushort GetFpuStatus() => Fsw;
        public ulong ReadMsr(uint index) => Msrs.GetValueOrDefault(index);
        public ulong? Translate(ulong linear) => linear < 0x10_0000 ? linear : null;
    }
}
