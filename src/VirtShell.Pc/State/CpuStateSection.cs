using VirtShell.Engine.Cpu;
using VirtShell.Engine.State;

namespace VirtShell.Pc;

/// <summary>
/// <see cref="CpuState"/> in a saved state, field by field, so that every backend writes the architectural registers
/// the same way and adds only what it keeps besides (pending events, MSRs, the halt).
/// </summary>
public static class CpuStateSection
{
    /// <summary>Writes every field of <paramref name="s"/>, FPU included.</summary>
    public static void Write(StateWriter w, CpuState s)
    {
        foreach (ulong r in (ReadOnlySpan<ulong>)[s.Rax, s.Rbx, s.Rcx, s.Rdx, s.Rsi, s.Rdi, s.Rbp, s.Rsp,
                     s.R8, s.R9, s.R10, s.R11, s.R12, s.R13, s.R14, s.R15, s.Rip, s.Rflags, s.Cr0, s.Cr2, s.Cr3, s.Cr4, s.Efer])
            w.WriteUInt64(r);
        foreach (var seg in (ReadOnlySpan<SegmentState>)[s.Cs, s.Ds, s.Es, s.Fs, s.Gs, s.Ss, s.Tr, s.Ldtr])
        {
            w.WriteUInt16(seg.Selector);
            w.WriteUInt64(seg.Base);
            w.WriteUInt32(seg.Limit);
            w.WriteUInt16(seg.Attributes);
        }
        foreach (var table in (ReadOnlySpan<DescriptorTableState>)[s.Gdtr, s.Idtr])
        {
            w.WriteUInt64(table.Base);
            w.WriteUInt16(table.Limit);
        }
        var f = s.Fpu;
        w.WriteUInt16(f.Fcw);
        w.WriteUInt16(f.Fsw);
        w.WriteByte(f.Ftw);
        w.WriteUInt16(f.LastOpcode);
        w.WriteUInt64(f.LastIp);
        w.WriteUInt64(f.LastDp);
        foreach (var st in f.St) w.WriteUInt128(st);
        foreach (var xmm in f.Xmm) w.WriteUInt128(xmm);
        w.WriteUInt32(f.Mxcsr);
    }

    /// <summary>Reads what <see cref="Write"/> wrote.</summary>
    public static CpuState Read(StateReader r)
    {
        var s = new CpuState
        {
            Rax = r.ReadUInt64(), Rbx = r.ReadUInt64(), Rcx = r.ReadUInt64(), Rdx = r.ReadUInt64(),
            Rsi = r.ReadUInt64(), Rdi = r.ReadUInt64(), Rbp = r.ReadUInt64(), Rsp = r.ReadUInt64(),
            R8 = r.ReadUInt64(), R9 = r.ReadUInt64(), R10 = r.ReadUInt64(), R11 = r.ReadUInt64(),
            R12 = r.ReadUInt64(), R13 = r.ReadUInt64(), R14 = r.ReadUInt64(), R15 = r.ReadUInt64(),
            Rip = r.ReadUInt64(), Rflags = r.ReadUInt64(),
            Cr0 = r.ReadUInt64(), Cr2 = r.ReadUInt64(), Cr3 = r.ReadUInt64(), Cr4 = r.ReadUInt64(), Efer = r.ReadUInt64(),
        };
        SegmentState Segment() => new() { Selector = r.ReadUInt16(), Base = r.ReadUInt64(), Limit = r.ReadUInt32(), Attributes = r.ReadUInt16() };
        (s.Cs, s.Ds, s.Es, s.Fs, s.Gs, s.Ss, s.Tr, s.Ldtr) = (Segment(), Segment(), Segment(), Segment(), Segment(), Segment(), Segment(), Segment());
        DescriptorTableState Table() => new() { Base = r.ReadUInt64(), Limit = r.ReadUInt16() };
        (s.Gdtr, s.Idtr) = (Table(), Table());
        var f = s.Fpu;
        f.Fcw = r.ReadUInt16();
        f.Fsw = r.ReadUInt16();
        f.Ftw = r.ReadByte();
        f.LastOpcode = r.ReadUInt16();
        f.LastIp = r.ReadUInt64();
        f.LastDp = r.ReadUInt64();
        for (int i = 0; i < f.St.Length; i++)
        {
            f.St[i] = r.ReadUInt128();
            r.Check(f.St[i] >> 80 == 0, $"x87 register ST({i}) is wider than 80 bits");
        }
        for (int i = 0; i < f.Xmm.Length; i++) f.Xmm[i] = r.ReadUInt128();
        f.Mxcsr = r.ReadUInt32();
        return s;
    }
}
