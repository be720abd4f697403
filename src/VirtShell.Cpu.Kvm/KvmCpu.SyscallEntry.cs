using System.Buffers.Binary;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Native;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// Where the host is itself a VM without VMX, its KVM (PVM) runs guest ring 3 natively but ring 0 through an
/// emulator, and its SYSCALL from ring 3 is half done: RIP comes from LSTAR, RCX and R11 hold the return address and
/// RFLAGS, but CS, SS and the privilege level stay those of user mode (QEMU on the same host shows the same). A kernel's
/// entry page is supervisor-only, so the fetch at LSTAR faults in ring 3 and the guest gets a page fault at its own
/// system call entry; the process dies, and no Linux user space can run. <see cref="KvmSyscallCheck"/> finds out
/// once per process whether the host does this.
/// </summary>
/// <remarks>
/// On such a host the backend finishes the switch. No exit reaches user space at the bad SYSCALL itself (this KVM
/// reports neither guest MSR writes nor guest-debug breakpoints), but the page fault goes through the guest's IDT into
/// code the host emulates, and an INT3 there is an emulation failure that does exit. So the first instruction of the
/// guest's page-fault handler is replaced by INT3 (when it is one whose effect we can complete: ENDBR64, a NOP, CLD).
/// At each hit, a fault whose frame says "ring 3 at LSTAR" becomes the SYSCALL it should have been: the exception
/// frame is dropped, CS and SS come from STAR, RFLAGS is R11 less SFMASK, RIP is LSTAR. Any other fault goes on into
/// the handler past the displaced instruction. The handler is looked up again on the exits the guest makes anyway,
/// at most every <see cref="HandlerCheckInterval"/> ms, because a kernel moves to its final IDT during boot.
/// </remarks>
public sealed unsafe partial class KvmCpu
{
    private const int PageFaultVector = 14;
    private const long HandlerCheckInterval = 10;
    private const byte Cld = 0xFC;

    /// <summary>The VM's patch, or null where the host's SYSCALL is sound.</summary>
    private readonly PageFaultHandlerPatch? _patch;
    private long _lastHandlerCheck = long.MinValue / 2;
    private long _completedSyscalls;

    /// <summary>System calls whose ring switch the host left undone and this backend finished.</summary>
    public long CompletedSyscalls => Volatile.Read(ref _completedSyscalls);

    /// <summary>Called on port and MMIO exits; cheap unless a check is due.</summary>
    private void CheckPageFaultHandler()
    {
        long now = Environment.TickCount64;
        if (_patch == null || now - _lastHandlerCheck < HandlerCheckInterval) return;
        _lastHandlerCheck = now;

        KvmSregs sregs;
        Ioctl(KvmApi.GetSregs, (nint)(&sregs), "KVM_GET_SREGS");
        ulong handler = 0;
        Span<byte> gate = stackalloc byte[16];
        if ((sregs.Efer & X86.EferLma) != 0 && sregs.Idt.Limit >= PageFaultVector * 16 + 15
            && ReadLinear(sregs.Idt.Base + PageFaultVector * 16, gate) && (gate[5] & 0x80) != 0)
            handler = GateOffset(gate);
        lock (_patch)
        {
            ulong? physical = handler == 0 ? null : Physical(handler);
            if (handler == _patch.Handler && handler != 0 && physical == _patch.Physical && IsInt3(_patch.Physical)) return;

            // The kernel moved to another IDT, or rewrote the instruction (boot-time patching): start again.
            if (_patch.Handler != 0 && IsInt3(_patch.Physical)) _memory.Write(_patch.Physical, [_patch.DisplacedByte]);
            _patch.Handler = 0;
            Span<byte> code = stackalloc byte[5];
            if (physical == null || !ReadLinear(handler, code) || DisplacedLength(code) == 0) return;
            (_patch.Handler, _patch.Physical, _patch.DisplacedByte) = (handler, physical.Value, code[0]);
            _memory.Write(physical.Value, [Int3]);
        }
    }

    private bool IsInt3(ulong physical) => _memory.GetSpan(physical, 1)[0] == Int3;

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
        KvmRegs regs;
        KvmSregs sregs;
        Ioctl(KvmApi.GetRegs, (nint)(&regs), "KVM_GET_REGS");
        if (_patch == null) return false;
        byte displacedByte;
        lock (_patch)
        {
            if (_patch.Handler == 0 || regs.Rip != _patch.Handler) return false;
            displacedByte = _patch.DisplacedByte;
        }
        Ioctl(KvmApi.GetSregs, (nint)(&sregs), "KVM_GET_SREGS");

        // The 64-bit frame of an exception with an error code: error, RIP, CS, RFLAGS, RSP, SS.
        Span<byte> frame = stackalloc byte[48];
        if (!ReadLinear(regs.Rsp, frame)) return false;
        ulong faultRip = BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]);
        ulong faultCs = BinaryPrimitives.ReadUInt64LittleEndian(frame[16..]);
        ulong lstar = ReadMsr(X86.MsrLstar);
        if ((faultCs & 3) == 3 && faultRip == lstar && lstar != 0)
        {
            ushort kernelCs = (ushort)((ReadMsr(X86.MsrStar) >> 32) & 0xFFFC);
            sregs.Cs = new KvmSegment { Selector = kernelCs, Limit = 0xFFFF_FFFF, Type = 0xB, S = 1, Present = 1, L = 1, G = 1 };
            sregs.Ss = new KvmSegment { Selector = (ushort)(kernelCs + 8), Limit = 0xFFFF_FFFF, Type = 0x3, S = 1, Present = 1, Db = 1, G = 1 };
            regs.Rip = lstar;
            regs.Rsp = BinaryPrimitives.ReadUInt64LittleEndian(frame[32..]);
            regs.Rflags = (regs.R11 & ~ReadMsr(X86.MsrSfmask) & ~(ulong)X86.FlagRf) | X86.FlagFixed;
            Ioctl(KvmApi.SetSregs, (nint)(&sregs), "KVM_SET_SREGS");
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
        Ioctl(KvmApi.SetRegs, (nint)(&regs), "KVM_SET_REGS");
        return true;
    }

    private static ulong GateOffset(ReadOnlySpan<byte> gate) =>
        BinaryPrimitives.ReadUInt16LittleEndian(gate) | (ulong)BinaryPrimitives.ReadUInt16LittleEndian(gate[6..]) << 16
        | (ulong)BinaryPrimitives.ReadUInt32LittleEndian(gate[8..]) << 32;

    private ulong ReadMsr(uint index)
    {
        var buffer = new MsrBuffer { Count = 1, Entry = new KvmMsrEntry { Index = index } };
        if (Libc.ioctl(_fd.Value, KvmApi.GetMsrs, (nint)(&buffer)) != 1)
            throw new KvmException($"KVM_GET_MSRS could not read MSR 0x{index:x} (vCPU {Id})");
        return buffer.Entry.Data;
    }

    internal void WriteMsr(uint index, ulong value)
    {
        var buffer = new MsrBuffer { Count = 1, Entry = new KvmMsrEntry { Index = index, Data = value } };
        if (Libc.ioctl(_fd.Value, KvmApi.SetMsrs, (nint)(&buffer)) != 1)
            throw new KvmException($"KVM_SET_MSRS refused 0x{value:x} for MSR 0x{index:x} (vCPU {Id})");
    }

    /// <summary>struct kvm_msrs with room for one entry.</summary>
    private struct MsrBuffer
    {
        public uint Count;
        private readonly uint _padding;
        public KvmMsrEntry Entry;
    }
}

/// <summary>
/// The INT3 on the guest's page-fault handler, one per VM since every vCPU enters the same handler; any vCPU may
/// move it (under its lock) and any may take the hit.
/// </summary>
internal sealed class PageFaultHandlerPatch
{
    /// <summary>The handler's linear address, or 0 while nothing is patched.</summary>
    public ulong Handler;
    public ulong Physical;
    /// <summary>The first byte of the instruction the INT3 stands in; the rest is still in memory after it.</summary>
    public byte DisplacedByte;
}
