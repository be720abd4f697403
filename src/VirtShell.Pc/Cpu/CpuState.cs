using System.Text;
using VirtShell.Engine.Cpu;

namespace VirtShell.Pc;

/// <summary>A segment register as the CPU caches it: the selector and its descriptor's base, limit and attributes.</summary>
public struct SegmentState
{
    /// <summary>The visible selector.</summary>
    public ushort Selector;
    /// <summary>Linear base address.</summary>
    public ulong Base;
    /// <summary>Limit in bytes, already scaled by G (so 0xFFFFFFFF for a flat 4 GiB segment).</summary>
    public uint Limit;
    /// <summary>Descriptor bits 40-47 (type, S, DPL, P) in the low byte and 52-55 (AVL, L, D/B, G) in bits 12-15, as in VMX/KVM.</summary>
    public ushort Attributes;

    /// <summary>A real-mode segment: base = selector * 16, 64 KiB limit, present read/write data.</summary>
    public static SegmentState Real(ushort selector, bool code = false) =>
        new() { Selector = selector, Base = (ulong)selector << 4, Limit = 0xFFFF, Attributes = (ushort)(code ? 0x9B : 0x93) };

    /// <summary>A flat 4 GiB 32-bit segment.</summary>
    public static SegmentState Flat32(ushort selector, bool code) =>
        new() { Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, Attributes = (ushort)((code ? 0x9B : 0x93) | 0xC000) };
}

/// <summary>GDTR or IDTR: the table's linear base and its limit (size in bytes minus one).</summary>
public struct DescriptorTableState
{
    /// <summary>Linear base address of the table.</summary>
    public ulong Base;
    /// <summary>Offset of the table's last byte.</summary>
    public ushort Limit;
}

/// <summary>
/// The x87 and SSE state as FXSAVE lays it out (the part every x86-64 guest uses; AVX's upper halves are not here).
/// Fresh values are those after reset (FNINIT, MXCSR default).
/// </summary>
public sealed class FpuState
{
    /// <summary>x87 control word (reset 037F: all exceptions masked, 64-bit precision) and status word.</summary>
    public ushort Fcw = 0x037F, Fsw;
    /// <summary>The abridged tag word: bit i set when ST(i)'s physical register i is in use.</summary>
    public byte Ftw;
    /// <summary>FOP: the low 11 bits of the last non-control x87 instruction's opcode.</summary>
    public ushort LastOpcode;
    /// <summary>FIP and FDP: the address of the last x87 instruction and of its memory operand.</summary>
    public ulong LastIp, LastDp;
    /// <summary>The eight x87 registers in FXSAVE's order, ST(0) to ST(7), 80 bits each in the low bits.</summary>
    public readonly UInt128[] St = new UInt128[8];
    /// <summary>XMM0 to XMM15.</summary>
    public readonly UInt128[] Xmm = new UInt128[16];
    /// <summary>SSE control and status (reset 1F80: all exceptions masked, round to nearest).</summary>
    public uint Mxcsr = 0x1F80;
}

/// <summary>
/// Architectural CPU state, backend-neutral: loaders produce it, both the interpreter and KVM load and save it,
/// and register dumps print it. Registers are 64-bit wide so the same record serves 64-bit KVM guests.
/// </summary>
public sealed class CpuState
{
    /// <summary>General registers; a 32-bit guest uses the low halves.</summary>
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rbp, Rsp;
    /// <summary>The registers long mode adds.</summary>
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    /// <summary>Instruction pointer, an offset into <see cref="Cs"/>.</summary>
    public ulong Rip;
    /// <summary>Flags; bit 1 always reads as one.</summary>
    public ulong Rflags = 0x2;
    /// <summary>Segment registers, the task register and the LDT register.</summary>
    public SegmentState Cs, Ds, Es, Fs, Gs, Ss, Tr, Ldtr;
    /// <summary>Descriptor table registers.</summary>
    public DescriptorTableState Gdtr, Idtr;
    /// <summary>Control registers (CR0 with ET set, as after reset) and the EFER MSR.</summary>
    public ulong Cr0 = 0x10, Cr2, Cr3, Cr4, Efer;
    /// <summary>x87 and SSE state; never null.</summary>
    public FpuState Fpu = new();

    /// <summary>The state after reset, moved to start at <paramref name="cs"/>:<paramref name="ip"/> in real mode.</summary>
    public static CpuState RealMode(ushort cs, ushort ip) => new()
    {
        Cs = SegmentState.Real(cs, code: true),
        Ds = SegmentState.Real(0), Es = SegmentState.Real(0), Fs = SegmentState.Real(0),
        Gs = SegmentState.Real(0), Ss = SegmentState.Real(0),
        Tr = new SegmentState { Limit = 0xFFFF, Attributes = 0x8B },
        Ldtr = new SegmentState { Limit = 0xFFFF, Attributes = 0x82 },
        Gdtr = new DescriptorTableState { Limit = 0xFFFF },
        Idtr = new DescriptorTableState { Limit = 0x3FF },
        Rip = ip,
    };

    /// <summary>
    /// The state after RESET (SDM Vol. 3, "Processor State After Reset"): real mode with CS base FFFF0000, so the
    /// first fetch is at FFFFFFF0; CR0 with CD and NW set; EDX the family 6 signature, as KVM's vCPU reset gives it.
    /// </summary>
    public static CpuState Reset()
    {
        var s = RealMode(0xF000, 0xFFF0);
        s.Cs.Base = 0xFFFF_0000;
        s.Cr0 = 0x6000_0010;
        s.Rdx = 0x600;
        return s;
    }

    /// <summary>A register dump in the style of QEMU's "info registers", for crash records.</summary>
    public string Dump()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"EAX={Rax:x8} EBX={Rbx:x8} ECX={Rcx:x8} EDX={Rdx:x8}");
        sb.AppendLine($"ESI={Rsi:x8} EDI={Rdi:x8} EBP={Rbp:x8} ESP={Rsp:x8}");
        sb.AppendLine($"EIP={Rip:x8} EFL={Rflags:x8}");
        void Seg(string n, SegmentState s) => sb.AppendLine($"{n} ={s.Selector:x4} {s.Base:x8} {s.Limit:x8} {s.Attributes:x4}");
        Seg("ES", Es); Seg("CS", Cs); Seg("SS", Ss); Seg("DS", Ds); Seg("FS", Fs); Seg("GS", Gs);
        Seg("LDT", Ldtr); Seg("TR ", Tr);
        sb.AppendLine($"GDT= {Gdtr.Base:x8} {Gdtr.Limit:x4}");
        sb.AppendLine($"IDT= {Idtr.Base:x8} {Idtr.Limit:x4}");
        sb.AppendLine($"CR0={Cr0:x8} CR2={Cr2:x8} CR3={Cr3:x8} CR4={Cr4:x8}");
        sb.Append($"FCW={Fpu.Fcw:x4} FSW={Fpu.Fsw:x4} FTW={Fpu.Ftw:x2} MXCSR={Fpu.Mxcsr:x8}");
        // Only the XMM registers in use: a crash record should stay readable.
        for (int i = 0; i < Fpu.Xmm.Length; i++)
            if (Fpu.Xmm[i] != 0) sb.Append($"\nXMM{i:D2}={(ulong)(Fpu.Xmm[i] >> 64):x16}{(ulong)Fpu.Xmm[i]:x16}");
        return sb.ToString();
    }
}
