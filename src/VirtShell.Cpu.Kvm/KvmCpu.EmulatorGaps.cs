using System.Buffers.Binary;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Native;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// Where the host is itself a VM, KVM runs ring-0 guest code through its instruction emulator, and some instructions a
/// kernel executes are not in it: they come back as emulation failures. The few that are simple enough are completed
/// here, as the CPU would; anything else (another instruction, another mode, a case these do not cover) is left to be
/// reported as the failure it is.
/// </summary>
public sealed unsafe partial class KvmCpu
{
    private const byte Int3 = 0xCC, Fwait = 0x9B;
    private const ushort FswErrorSummary = 1 << 7;
    private const int BreakpointVector = 3, GateInterrupt64 = 0xE, GateTrap64 = 0xF;

    private bool TryCompleteUnemulated(KvmRunInternal* error)
    {
        // With KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES, data[1] holds the length and the first 7 bytes.
        if ((KvmApi.InternalErrorSuberror)error->Suberror != KvmApi.InternalErrorSuberror.Emulation || error->NData < 2
            || (error->Data[0] & 1) == 0 || (byte)error->Data[1] == 0)
            return false;
        bool done = (byte)(error->Data[1] >> 8) switch
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
        KvmXsave xsave;
        Ioctl(KvmApi.GetXsave, (nint)(&xsave), "KVM_GET_XSAVE");
        if ((*(ushort*)(xsave.Region + KvmXsave.Fsw) & FswErrorSummary) != 0) return false;
        KvmRegs regs;
        Ioctl(KvmApi.GetRegs, (nint)(&regs), "KVM_GET_REGS");
        regs.Rip++;
        Ioctl(KvmApi.SetRegs, (nint)(&regs), "KVM_SET_REGS");
        return true;
    }

    /// <summary>
    /// The emulator delivers software interrupts only in real mode; Linux executes an INT3 at boot, testing its own
    /// breakpoint handling. This delivers it as the CPU does for a 64-bit kernel at CPL 0: through IDT gate 3, onto the
    /// gate's IST stack if it names one, frame SS, RSP, RFLAGS, CS, RIP+1.
    /// </summary>
    private bool TryDeliverBreakpoint()
    {
        KvmRegs regs;
        KvmSregs sregs;
        Ioctl(KvmApi.GetRegs, (nint)(&regs), "KVM_GET_REGS");
        Ioctl(KvmApi.GetSregs, (nint)(&sregs), "KVM_GET_SREGS");
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
        Ioctl(KvmApi.SetSregs, (nint)(&sregs), "KVM_SET_SREGS");
        Ioctl(KvmApi.SetRegs, (nint)(&regs), "KVM_SET_REGS");
        return true;
    }

    private bool ReadLinear(ulong address, Span<byte> destination)
    {
        Span<(ulong Physical, int Length)> pieces = stackalloc (ulong, int)[destination.Length / 4096 + 2];
        if (!TranslateRange(address, destination.Length, ref pieces)) return false;
        int done = 0;
        foreach (var (physical, length) in pieces)
        {
            _memory.Read(physical, destination.Slice(done, length));
            done += length;
        }
        return true;
    }

    /// <summary>Writes nothing unless every page of the range is mapped RAM, as a CPU faults before a partial push.</summary>
    private bool WriteLinear(ulong address, ReadOnlySpan<byte> source)
    {
        Span<(ulong Physical, int Length)> pieces = stackalloc (ulong, int)[source.Length / 4096 + 2];
        if (!TranslateRange(address, source.Length, ref pieces)) return false;
        int done = 0;
        foreach (var (physical, length) in pieces)
        {
            _memory.Write(physical, source.Slice(done, length));
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
            if (Physical(address + (ulong)done) is not { } physical || !_memory.IsRam(physical, (ulong)chunk)) return false;
            pieces[count] = (physical, chunk);
            done += chunk;
        }
        pieces = pieces[..count];
        return true;
    }

    /// <summary>A linear address through the guest's page tables (KVM_TRANSLATE), or null where nothing is mapped.</summary>
    private ulong? Physical(ulong linear)
    {
        var translation = new KvmTranslation { LinearAddress = linear };
        if (Libc.ioctl(_fd.Value, KvmApi.Translate, (nint)(&translation)) < 0 || translation.Valid == 0) return null;
        return translation.PhysicalAddress;
    }
}
