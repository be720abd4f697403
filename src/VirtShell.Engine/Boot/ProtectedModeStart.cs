using VirtShell.Engine.Cpu;

namespace VirtShell.Engine.Boot;

/// <summary>The CPU as a 32-bit boot protocol hands it over: flat 4 GiB segments, protected mode, paging and interrupts off.</summary>
internal static class ProtectedModeStart
{
    public static CpuState Flat32(ulong entry, ushort codeSelector, ushort dataSelector)
    {
        var s = CpuState.RealMode(0, 0);
        s.Cs = SegmentState.Flat32(codeSelector, code: true);
        s.Ds = s.Es = s.Fs = s.Gs = s.Ss = SegmentState.Flat32(dataSelector, code: false);
        s.Cr0 = 0x11; // PE, ET
        s.Rip = entry;
        return s;
    }

    /// <summary>
    /// Writes a GDT with flat code and data descriptors at the given selectors, for kernels that reload segment
    /// registers before they load a GDT of their own, and points GDTR at it.
    /// </summary>
    public static void WriteGdt(Memory.GuestMemory memory, ulong address, CpuState state)
    {
        int entries = Math.Max(state.Cs.Selector, state.Ds.Selector) / 8 + 1;
        var gdt = new byte[entries * 8];
        BitConverter.GetBytes(0x00CF_9A00_0000_FFFFUL).CopyTo(gdt, state.Cs.Selector & ~7);
        BitConverter.GetBytes(0x00CF_9200_0000_FFFFUL).CopyTo(gdt, state.Ds.Selector & ~7);
        memory.Write(address, gdt);
        state.Gdtr = new DescriptorTableState { Base = address, Limit = (ushort)(gdt.Length - 1) };
    }
}
