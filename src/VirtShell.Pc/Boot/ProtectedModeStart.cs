using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Boot;

namespace VirtShell.Pc;

/// <summary>
/// The CPU as a boot protocol hands it over without firmware: flat 4 GiB segments, interrupts off, and either
/// 32-bit protected mode with paging off or 64-bit long mode on identity-mapped page tables.
/// </summary>
internal static class ProtectedModeStart
{
    public static CpuState Flat32(ulong entry, ushort codeSelector, ushort dataSelector)
    {
        var s = CpuState.RealMode(0, 0);
        s.Cs = SegmentState.Flat32(codeSelector, code: true);
        s.Ds = s.Es = s.Fs = s.Gs = s.Ss = SegmentState.Flat32(dataSelector, code: false);
        s.Cr0 = X86.Cr0Pe | X86.Cr0Et;
        s.Rip = entry;
        return s;
    }

    /// <summary>
    /// Long mode at <paramref name="entry"/>, paging through tables written at <paramref name="pageTables"/> that map
    /// the first 4 GiB one to one in 2 MiB pages (six pages: PML4, PDPT and four page directories).
    /// </summary>
    public static CpuState Long64(GuestMemory memory, ulong pageTables, ulong entry, ushort codeSelector, ushort dataSelector)
    {
        var tables = new byte[6 * 4096];
        BitConverter.GetBytes(pageTables + 0x1000 | 3).CopyTo(tables, 0);                  // PML4[0] -> PDPT
        for (int i = 0; i < 4; i++)
            BitConverter.GetBytes(pageTables + (ulong)(2 + i) * 0x1000 | 3).CopyTo(tables, 0x1000 + i * 8); // PDPT[i] -> PD i
        for (int i = 0; i < 4 * 512; i++)
            BitConverter.GetBytes(((ulong)i << 21) | 0x83).CopyTo(tables, 0x2000 + i * 8);    // present, writable, 2 MiB
        memory.Write(pageTables, tables);

        var s = Flat32(entry, codeSelector, dataSelector);
        s.Cs.Attributes = 0xA09B; // G, L: a 64-bit code segment
        s.Cr0 = X86.Cr0Pg | X86.Cr0Pe | X86.Cr0Et;
        s.Cr3 = pageTables;
        s.Cr4 = X86.Cr4Pae;
        s.Efer = X86.EferLme | X86.EferLma;
        return s;
    }

    /// <summary>
    /// Writes a GDT holding the descriptors of the code and data segments in <paramref name="state"/> at their
    /// selectors, for kernels that reload segment registers before they load a GDT of their own, and points GDTR at it.
    /// </summary>
    public static void WriteGdt(GuestMemory memory, ulong address, CpuState state)
    {
        int entries = Math.Max(state.Cs.Selector, state.Ds.Selector) / 8 + 1;
        var gdt = new byte[entries * 8];
        BitConverter.GetBytes(Descriptor(state.Cs)).CopyTo(gdt, state.Cs.Selector & ~7);
        BitConverter.GetBytes(Descriptor(state.Ds)).CopyTo(gdt, state.Ds.Selector & ~7);
        memory.Write(address, gdt);
        state.Gdtr = new DescriptorTableState { Base = address, Limit = (ushort)(gdt.Length - 1) };
    }

    /// <summary>The 8-byte descriptor a segment register's cached state came from.</summary>
    public static ulong Descriptor(SegmentState s)
    {
        bool pageGranular = (s.Attributes & 0x8000) != 0;
        ulong limit = pageGranular ? s.Limit >> 12 : s.Limit;
        return (limit & 0xFFFF) | (s.Base & 0xFF_FFFF) << 16 | (ulong)(s.Attributes & 0xFF) << 40
               | (limit >> 16 & 0xF) << 48 | (ulong)(s.Attributes >> 12 & 0xF) << 52 | (s.Base >> 24 & 0xFF) << 56;
    }
}
