using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Cpu;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// The engine's <see cref="CpuState"/> to and from KVM's kvm_regs/kvm_sregs and the x87/SSE part of kvm_xsave. Segment attributes already use the
/// VMX layout KVM splits into fields; a segment that is not present is "unusable" to VMX.
/// </summary>
internal static unsafe class KvmStateMapping
{
    public static void Read(byte* xsave, FpuState fpu)
    {
        fpu.Fcw = *(ushort*)(xsave + KvmXsave.Fcw);
        fpu.Fsw = *(ushort*)(xsave + KvmXsave.Fsw);
        fpu.Ftw = xsave[KvmXsave.Ftw];
        fpu.LastOpcode = *(ushort*)(xsave + KvmXsave.LastOpcode);
        fpu.LastIp = *(ulong*)(xsave + KvmXsave.LastIp);
        fpu.LastDp = *(ulong*)(xsave + KvmXsave.LastDp);
        fpu.Mxcsr = *(uint*)(xsave + KvmXsave.Mxcsr);
        new ReadOnlySpan<UInt128>(xsave + KvmXsave.St, 8).CopyTo(fpu.St);
        new ReadOnlySpan<UInt128>(xsave + KvmXsave.Xmm, 16).CopyTo(fpu.Xmm);
    }

    /// <summary>Writes the x87 and SSE state into an XSAVE area, keeping the components FpuState does not carry (AVX and on).</summary>
    public static void Write(FpuState fpu, byte* xsave)
    {
        *(ushort*)(xsave + KvmXsave.Fcw) = fpu.Fcw;
        *(ushort*)(xsave + KvmXsave.Fsw) = fpu.Fsw;
        xsave[KvmXsave.Ftw] = fpu.Ftw;
        *(ushort*)(xsave + KvmXsave.LastOpcode) = fpu.LastOpcode;
        *(ulong*)(xsave + KvmXsave.LastIp) = fpu.LastIp;
        *(ulong*)(xsave + KvmXsave.LastDp) = fpu.LastDp;
        *(uint*)(xsave + KvmXsave.Mxcsr) = fpu.Mxcsr;
        fpu.St.CopyTo(new Span<UInt128>(xsave + KvmXsave.St, 8));
        fpu.Xmm.CopyTo(new Span<UInt128>(xsave + KvmXsave.Xmm, 16));
        *(ulong*)(xsave + KvmXsave.XstateBv) |= KvmXsave.X87AndSse;
    }

    public static void Read(in KvmRegs r, in KvmSregs s, CpuState state)
    {
        state.Rax = r.Rax; state.Rbx = r.Rbx; state.Rcx = r.Rcx; state.Rdx = r.Rdx;
        state.Rsi = r.Rsi; state.Rdi = r.Rdi; state.Rsp = r.Rsp; state.Rbp = r.Rbp;
        state.R8 = r.R8; state.R9 = r.R9; state.R10 = r.R10; state.R11 = r.R11;
        state.R12 = r.R12; state.R13 = r.R13; state.R14 = r.R14; state.R15 = r.R15;
        state.Rip = r.Rip; state.Rflags = r.Rflags;

        state.Cs = FromKvm(s.Cs); state.Ds = FromKvm(s.Ds); state.Es = FromKvm(s.Es); state.Fs = FromKvm(s.Fs);
        state.Gs = FromKvm(s.Gs); state.Ss = FromKvm(s.Ss); state.Tr = FromKvm(s.Tr); state.Ldtr = FromKvm(s.Ldt);
        state.Gdtr = new DescriptorTableState { Base = s.Gdt.Base, Limit = s.Gdt.Limit };
        state.Idtr = new DescriptorTableState { Base = s.Idt.Base, Limit = s.Idt.Limit };
        state.Cr0 = s.Cr0; state.Cr2 = s.Cr2; state.Cr3 = s.Cr3; state.Cr4 = s.Cr4; state.Efer = s.Efer;
    }

    public static KvmRegs ToRegs(CpuState state) => new()
    {
        Rax = state.Rax, Rbx = state.Rbx, Rcx = state.Rcx, Rdx = state.Rdx,
        Rsi = state.Rsi, Rdi = state.Rdi, Rsp = state.Rsp, Rbp = state.Rbp,
        R8 = state.R8, R9 = state.R9, R10 = state.R10, R11 = state.R11,
        R12 = state.R12, R13 = state.R13, R14 = state.R14, R15 = state.R15,
        Rip = state.Rip, Rflags = state.Rflags | 0x2, // bit 1 always reads as one; VM entry fails without it
    };

    /// <summary>Writes the architectural part of <paramref name="state"/> into <paramref name="s"/>, keeping what CpuState does not carry (APIC base, CR8, pending interrupts).</summary>
    public static void Write(CpuState state, ref KvmSregs s)
    {
        s.Cs = ToKvm(state.Cs); s.Ds = ToKvm(state.Ds); s.Es = ToKvm(state.Es); s.Fs = ToKvm(state.Fs);
        s.Gs = ToKvm(state.Gs); s.Ss = ToKvm(state.Ss); s.Tr = ToKvm(state.Tr); s.Ldt = ToKvm(state.Ldtr);
        s.Gdt = new KvmDtable { Base = state.Gdtr.Base, Limit = state.Gdtr.Limit };
        s.Idt = new KvmDtable { Base = state.Idtr.Base, Limit = state.Idtr.Limit };
        s.Cr0 = state.Cr0; s.Cr2 = state.Cr2; s.Cr3 = state.Cr3; s.Cr4 = state.Cr4; s.Efer = state.Efer;
    }

    public static KvmSegment ToKvm(SegmentState segment)
    {
        int a = segment.Attributes;
        byte present = (byte)((a >> 7) & 1);
        return new KvmSegment
        {
            Base = segment.Base,
            Limit = segment.Limit,
            Selector = segment.Selector,
            Type = (byte)(a & 0xF),
            S = (byte)((a >> 4) & 1),
            Dpl = (byte)((a >> 5) & 3),
            Present = present,
            Avl = (byte)((a >> 12) & 1),
            L = (byte)((a >> 13) & 1),
            Db = (byte)((a >> 14) & 1),
            G = (byte)((a >> 15) & 1),
            Unusable = (byte)(present ^ 1),
        };
    }

    public static SegmentState FromKvm(in KvmSegment k) => new()
    {
        Base = k.Base,
        Limit = k.Limit,
        Selector = k.Selector,
        Attributes = (ushort)((k.Type & 0xF) | (k.S & 1) << 4 | (k.Dpl & 3) << 5 | (k.Unusable != 0 ? 0 : k.Present & 1) << 7
                              | (k.Avl & 1) << 12 | (k.L & 1) << 13 | (k.Db & 1) << 14 | (k.G & 1) << 15),
    };
}
