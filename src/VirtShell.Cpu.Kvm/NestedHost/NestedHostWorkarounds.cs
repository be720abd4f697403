using System.Buffers.Binary;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;

namespace VirtShell.Cpu.Kvm.NestedHost;

/// <summary>
/// What one vCPU does where the host is itself a VM whose KVM (PVM) runs guest ring 3 natively but ring 0 through its
/// instruction emulator. <see cref="KvmCpu"/> makes one only on such a host (<see cref="KvmSyscallCheck"/> finds out
/// once per process); elsewhere none of this runs.
/// </summary>
/// <remarks>
/// <para>
/// <b>Emulator gaps.</b> Some instructions a kernel executes in ring 0 are not in the host's emulator: they come back
/// as emulation failures. The few that are simple enough are completed here, as the CPU would (INT3 in a 64-bit
/// kernel, FWAIT with nothing pending); anything else (another instruction, another mode, a case these do not cover)
/// is left to be reported as the failure it is.
/// </para>
/// <para>
/// <b>SYSCALL.</b> The host's SYSCALL from ring 3 is half done: RIP comes from LSTAR, RCX and R11 hold the return
/// address and RFLAGS, but CS, SS and the privilege level stay those of user mode (QEMU on the same host shows the
/// same). A kernel's entry page is supervisor-only, so the fetch at LSTAR faults in ring 3 and the guest gets a page
/// fault at its own system call entry; the process dies, and no Linux user space can run. No exit reaches user space
/// at the bad SYSCALL itself (this KVM reports neither guest MSR writes nor guest-debug breakpoints), but the page
/// fault goes through the guest's IDT into code the host emulates, and an INT3 there is an emulation failure that
/// does exit. So the first instruction of the guest's page-fault handler is replaced by INT3 (when it is one whose
/// effect we can complete: ENDBR64, a NOP, CLD). At each hit, a fault whose frame says "ring 3 at LSTAR" becomes the
/// SYSCALL it should have been: the exception frame is dropped, CS and SS come from STAR, RFLAGS is R11 less SFMASK,
/// RIP is LSTAR. Any other fault goes on into the handler past the displaced instruction. The handler is looked up
/// again on the exits the guest makes anyway, at most every <see cref="HandlerCheckInterval"/> ms, because a kernel
/// moves to its final IDT during boot.
/// </para>
/// </remarks>
internal sealed class NestedHostWorkarounds(IVcpuAccess vcpu, GuestMemory memory, PageFaultHandlerPatch patch)
{
    private const byte Int3 = 0xCC, Fwait = 0x9B, Cld = 0xFC;
    private const ushort FswErrorSummary = 1 << 7;
    private const int BreakpointVector = 3, PageFaultVector = 14, GateInterrupt64 = 0xE, GateTrap64 = 0xF;
    private const long HandlerCheckInterval = 10;

    private long _lastHandlerCheck = long.MinValue / 2;
    private long _completedUnemulated, _completedSyscalls;

    /// <summary>Instructions the host's emulator handed back that were completed here.</summary>
    public long CompletedUnemulated => Volatile.Read(ref _completedUnemulated);

    /// <summary>System calls whose ring switch the host left undone and were finished here.</summary>
    public long CompletedSyscalls => Volatile.Read(ref _completedSyscalls);

    /// <summary>
    /// An emulation failure whose instruction starts with <paramref name="firstByte"/>: true if it was completed and
    /// the vCPU can run on, false if it is the failure it says.
    /// </summary>
    public bool TryCompleteUnemulated(byte firstByte)
    {
        bool done = firstByte switch
        {
            Int3 => TryCompletePatchedHandler() || TryDeliverBreakpoint(),
            Fwait => TryCompleteFwait(),
            _ => false,
        };
        if (done) _completedUnemulated++;
        return done;
    }

    /// <summary>
    /// FWAIT (Linux waits so when it drops a task's FPU state) only raises #MF for a pending unmasked x87 exception;
    /// without one it does nothing, and the guest goes on after it.
    /// </summary>
    private bool TryCompleteFwait()
    {
        if ((vcpu.GetFpuStatus() & FswErrorSummary) != 0) return false;
        var regs = vcpu.GetRegs();
        regs.Rip++;
        vcpu.SetRegs(regs);
        return true;
    }

    /// <summary>
    /// The emulator delivers software interrupts only in real mode; Linux executes an INT3 at boot, testing its own
    /// breakpoint handling. This delivers it as the CPU does for a 64-bit kernel at CPL 0: through IDT gate 3, onto the
    /// gate's IST stack if it names one, frame SS, RSP, RFLAGS, CS, RIP+1.
    /// </summary>
    private bool TryDeliverBreakpoint()
    {
        var regs = vcpu.GetRegs();
        var sregs = vcpu.GetSregs();
        if ((sregs.Efer & X86.EferLma) == 0 || sregs.Cs.L == 0 || (sregs.Cs.Selector & 3) != 0 || sregs.Idt.Limit < BreakpointVector * 16 + 15)
            return false;

        Span<byte> gate = stackalloc byte[16];
        if (!ReadLinear(sregs.Idt.Base + BreakpointVector * 16, gate)) return false;
        int type = gate[5] & 0xF, ist = gate[4] & 7;
        bool present = (gate[5] & 0x80) != 0;
        ushort selector = BinaryPrimitives.ReadUInt16LittleEndian(gate[2..]);
        if (!present || type is not (GateInterrupt64 or GateTrap64) || (selector & 3) != 0) return false;
        ulong handler = GateOffset(gate);

        ulong stack = regs.Rsp;
        if (ist != 0)
        {
            Span<byte> entry = stackalloc byte[8];
            if (!ReadLinear(sregs.Tr.Base + 0x24 + (ulong)(ist - 1) * 8, entry)) return false; // TSS.IST1..7
            stack = BinaryPrimitives.ReadUInt64LittleEndian(entry);
        }
        stack = (stack & ~0xFUL) - 40;
        Span<byte> frame = stackalloc byte[40];
        BinaryPrimitives.WriteUInt64LittleEndian(frame, regs.Rip + 1);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[8..], sregs.Cs.Selector);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[16..], regs.Rflags);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[24..], regs.Rsp);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[32..], sregs.Ss.Selector);
        if (!WriteLinear(stack, frame)) return false;

        regs.Rsp = stack;
        regs.Rip = handler;
        regs.Rflags &= ~(ulong)(X86.FlagTf | X86.FlagNt | X86.FlagRf | X86.FlagVm | (type == GateInterrupt64 ? X86.FlagIf : 0));
        sregs.Cs.Selector = selector; // CPL 0 to CPL 0: the same kernel code segment, by the gate's selector
        vcpu.SetSregs(sregs);
        vcpu.SetRegs(regs);
        return true;
    }

    /// <summary>Called on port and MMIO exits: keeps the INT3 on the guest's page-fault handler; cheap unless a check is due.</summary>
    public void CheckPageFaultHandler()
    {
        long now = Environment.TickCount64;
        if (now - _lastHandlerCheck < HandlerCheckInterval) return;
        _lastHandlerCheck = now;

        var sregs = vcpu.GetSregs();
        ulong handler = 0;
        Span<byte> gate = stackalloc byte[16];
        if ((sregs.Efer & X86.EferLma) != 0 && sregs.Idt.Limit >= PageFaultVector * 16 + 15
            && ReadLinear(sregs.Idt.Base + PageFaultVector * 16, gate) && (gate[5] & 0x80) != 0)
            handler = GateOffset(gate);
        lock (patch)
        {
            ulong? physical = handler == 0 ? null : vcpu.Translate(handler);
            if (handler == patch.Handler && handler != 0 && physical == patch.Physical && IsInt3(patch.Physical)) return;

            // The kernel moved to another IDT, or rewrote the instruction (boot-time patching): start again.
            if (patch.Handler != 0 && IsInt3(patch.Physical)) memory.Write(patch.Physical, [patch.DisplacedByte]);
            patch.Handler = 0;
            Span<byte> code = stackalloc byte[5];
            if (physical == null || !ReadLinear(handler, code) || DisplacedLength(code) == 0) return;
            (patch.Handler, patch.Physical, patch.DisplacedByte) = (handler, physical.Value, code[0]);
            memory.Write(physical.Value, [Int3]);
        }
    }

    private bool IsInt3(ulong physical) => memory.GetSpan(physical, 1)[0] == Int3;

    /// <summary>How long the instruction is if it is one whose effect the backend can complete, else 0.</summary>
    private static int DisplacedLength(ReadOnlySpan<byte> code) => code switch
    {
        [0xF3, 0x0F, 0x1E, 0xFA, ..] => 4,        // ENDBR64
        [0x0F, 0x1F, 0x00, ..] => 3,              // NOP DWORD [RAX], the CLAC slot of a CPU without SMAP
        [0x0F, 0x1F, 0x40, _, ..] => 4,
        [0x0F, 0x1F, 0x44, 0x00, _] => 5,
        [0x66, 0x90, ..] => 2,
        [0x90, ..] or [0xFC, ..] => 1,            // NOP, CLD
        _ => 0,
    };

    /// <summary>An INT3 exit at the patched handler: finish the SYSCALL the fault stands for, or run the handler on.</summary>
    private bool TryCompletePatchedHandler()
    {
        var regs = vcpu.GetRegs();
        byte displacedByte;
        lock (patch)
        {
            if (patch.Handler == 0 || regs.Rip != patch.Handler) return false;
            displacedByte = patch.DisplacedByte;
        }
        var sregs = vcpu.GetSregs();

        // The 64-bit frame of an exception with an error code: error, RIP, CS, RFLAGS, RSP, SS.
        Span<byte> frame = stackalloc byte[48];
        if (!ReadLinear(regs.Rsp, frame)) return false;
        ulong faultRip = BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]);
        ulong faultCs = BinaryPrimitives.ReadUInt64LittleEndian(frame[16..]);
        ulong lstar = vcpu.ReadMsr(X86.MsrLstar);
        if ((faultCs & 3) == 3 && faultRip == lstar && lstar != 0)
        {
            ushort kernelCs = (ushort)((vcpu.ReadMsr(X86.MsrStar) >> 32) & 0xFFFC);
            sregs.Cs = new KvmSegment { Selector = kernelCs, Limit = 0xFFFF_FFFF, Type = 0xB, S = 1, Present = 1, L = 1, G = 1 };
            sregs.Ss = new KvmSegment { Selector = (ushort)(kernelCs + 8), Limit = 0xFFFF_FFFF, Type = 0x3, S = 1, Present = 1, Db = 1, G = 1 };
            regs.Rip = lstar;
            regs.Rsp = BinaryPrimitives.ReadUInt64LittleEndian(frame[32..]);
            regs.Rflags = (regs.R11 & ~vcpu.ReadMsr(X86.MsrSfmask) & ~(ulong)X86.FlagRf) | X86.FlagFixed;
            vcpu.SetSregs(sregs);
            _completedSyscalls++;
        }
        else
        {
            Span<byte> code = stackalloc byte[5];
            code[0] = displacedByte;
            if (!ReadLinear(regs.Rip + 1, code[1..])) return false;
            regs.Rip += (ulong)DisplacedLength(code);
            if (displacedByte == Cld) regs.Rflags &= ~(ulong)X86.FlagDf;
        }
        vcpu.SetRegs(regs);
        return true;
    }

    private static ulong GateOffset(ReadOnlySpan<byte> gate) =>
        BinaryPrimitives.ReadUInt16LittleEndian(gate) | (ulong)BinaryPrimitives.ReadUInt16LittleEndian(gate[6..]) << 16
        | (ulong)BinaryPrimitives.ReadUInt32LittleEndian(gate[8..]) << 32;

    private bool ReadLinear(ulong address, Span<byte> destination) => CopyLinear(address, destination, write: false);

    private bool WriteLinear(ulong address, Span<byte> source) => CopyLinear(address, source, write: true);

    /// <summary>Copies nothing unless every page of the range is mapped RAM, as a CPU faults before a partial push.</summary>
    private bool CopyLinear(ulong address, Span<byte> buffer, bool write)
    {
        Span<(ulong Physical, int Length)> pieces = stackalloc (ulong, int)[buffer.Length / 4096 + 2];
        if (!TranslateRange(address, buffer.Length, ref pieces)) return false;
        int done = 0;
        foreach (var (physical, length) in pieces)
        {
            var piece = buffer.Slice(done, length);
            if (write) memory.Write(physical, piece);
            else memory.Read(physical, piece);
            done += length;
        }
        return true;
    }

    /// <summary>The guest-physical pieces, page by page, of a linear range; false if a page is unmapped or not RAM.</summary>
    private bool TranslateRange(ulong address, int length, ref Span<(ulong Physical, int Length)> pieces)
    {
        int count = 0;
        for (int done = 0; done < length; count++)
        {
            int chunk = (int)Math.Min((ulong)(length - done), 4096 - ((address + (ulong)done) & 0xFFF));
            if (vcpu.Translate(address + (ulong)done) is not { } physical || !memory.IsRam(physical, (ulong)chunk)) return false;
            pieces[count] = (physical, chunk);
            done += chunk;
        }
        pieces = pieces[..count];
        return true;
    }
}
