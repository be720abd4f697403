namespace VirtShell.Cpu.Interpreter;

// Virtual-8086 mode (EFLAGS.VM with CR0.PE): real-mode addressing at CPL 3, under paging when it is on. It is entered
// by IRET from ring 0 and by a task switch to a TSS whose EFLAGS has VM, and left by any interrupt or exception, which
// goes to a ring-0 handler with GS FS DS ES SS ESP EFLAGS CS EIP on its stack (Segments.cs, DeliverProtected).
// IOPL-sensitive instructions (CLI STI PUSHF POPF INT n IRET) raise #GP(0) below IOPL 3 so the monitor can emulate
// them; port I/O always goes through the TSS permission bitmap (IoPorts.cs). VME (CR4 bit 0) is not implemented.
public sealed unsafe partial class InterpreterCpu
{
    /// <summary>Access rights of every segment in virtual-8086 mode: present, DPL 3, read/write, 16-bit.</summary>
    private const ushort V86SegmentAttributes = 0xF3;

    /// <summary>IRET at CPL 0 with VM in the popped EFLAGS: EIP CS EFLAGS ESP SS ES DS FS GS, all as doublewords.</summary>
    private void IretToV86()
    {
        Linear(SegSs, Sp, 36);
        var v = new uint[9];
        for (int k = 0; k < 9; k++) v[k] = PeekStack(4 * (uint)k, 4);
        if (v[0] > 0xFFFF) throw new CpuFault(Vector.GeneralProtection, 0);
        Eflags = (v[2] & (WritableFlags | FlagVm)) | 2; // at CPL 0 every flag loads, IOPL included
        LoadV86Segments(es: v[5], cs: v[1], ss: v[4], ds: v[6], fs: v[7], gs: v[8]);
        _gpr[RegEsp] = v[3];
        _eip = v[0];
    }

    /// <summary>Loads all six segment registers as virtual-8086 mode sees them (base = selector * 16, 64 KiB) and enters the mode's CPL 3.</summary>
    private void LoadV86Segments(uint es, uint cs, uint ss, uint ds, uint fs, uint gs)
    {
        ReadOnlySpan<uint> selectors = [es, cs, ss, ds, fs, gs];
        for (int seg = SegEs; seg <= SegGs; seg++)
        {
            ushort sel = (ushort)selectors[seg];
            _segs[seg] = new Segment { Selector = sel, Base = (uint)sel << 4, Limit = 0xFFFF, Attributes = V86SegmentAttributes };
        }
        ModeChanged();
    }
}
