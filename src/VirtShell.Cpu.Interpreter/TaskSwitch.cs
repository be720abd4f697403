namespace VirtShell.Cpu.Interpreter;

// Hardware task switching (SDM vol. 3, 7.3) with 32- and 16-bit TSSs: JMP/CALL to a TSS descriptor or task gate,
// interrupts and exceptions through an IDT task gate, and IRET with NT=1 back along the back link. The outgoing task's
// registers are saved in its TSS, busy bits and the back link kept, CR0.TS set, and CR3, the LDT, the registers and
// the segments loaded from the incoming TSS; a fault while loading the segments is taken in the new task. A TSS whose
// EFLAGS has VM starts a virtual-8086 task (V86.cs).
public sealed unsafe partial class InterpreterCpu
{
    private enum TaskSwitchSource { Jmp, Call, Iret, Interrupt }

    /// <summary>The busy bit in a TSS descriptor's type (available 1/9, busy 3/B).</summary>
    private const ushort TssBusyBit = 0x02;

    /// <summary>The incoming task's state as read from its TSS before anything of the outgoing task changes.</summary>
    private struct TaskState
    {
        public uint Cr3, Eip, Eflags;
        public uint[] Gprs;
        public ushort[] Segs;
        public ushort Ldt;
    }

    /// <summary>The TSS a task gate names: a present, available TSS in the GDT (<paramref name="faultVector"/>(TSS) otherwise).</summary>
    private Segment TaskGateTarget(ushort tssSelector, int faultVector)
    {
        if ((tssSelector & 4) != 0 || (tssSelector & 0xFFFC) == 0) throw new CpuFault(faultVector, tssSelector & 0xFFFC);
        var desc = ReadDescriptor(tssSelector, faultVector);
        if ((desc.Attributes & 0x17) != DescTss16) throw new CpuFault(faultVector, tssSelector & 0xFFFC); // not an available TSS
        if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, tssSelector & 0xFFFC);
        return desc;
    }

    /// <summary>An interrupt or exception through an IDT task gate: a nested task switch, then the error code on the new stack.</summary>
    private void InterruptThroughTaskGate(ushort tssSelector, uint returnEip, int? errorCode)
    {
        var desc = TaskGateTarget(tssSelector, Vector.GeneralProtection);
        SwitchTask(desc, TaskSwitchSource.Interrupt, returnEip, errorCode);
    }

    /// <summary>IRET with NT=1: back to the task named by the current TSS's back link, which must be busy.</summary>
    private void ReturnFromNestedTask()
    {
        ushort link = (ushort)ReadSystem(_tr.Base, 2);
        if ((link & 4) != 0 || (link & 0xFFFC) == 0) throw new CpuFault(Vector.InvalidTss, link & 0xFFFC);
        var desc = ReadDescriptor(link, Vector.InvalidTss);
        if ((desc.Attributes & 0x17) != (DescTss16 | TssBusyBit)) throw new CpuFault(Vector.InvalidTss, link & 0xFFFC);
        if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, link & 0xFFFC);
        SwitchTask(desc, TaskSwitchSource.Iret, (uint)_eip, null);
    }

    /// <summary>Sets or clears the busy bit of the TSS descriptor <paramref name="selector"/> names in the GDT.</summary>
    private void SetTssBusy(ushort selector, bool busy)
    {
        ulong at = _gdtr.Base + (selector & 0xFFF8u) + 5;
        uint access = ReadSystem(at, 1);
        WriteSystem(at, 1, busy ? access | TssBusyBit : access & ~(uint)TssBusyBit);
    }

    /// <summary>
    /// Switches from the current task to the TSS <paramref name="next"/> describes. <paramref name="returnEip"/> is the
    /// EIP saved for the outgoing task (the next instruction, or the faulting one for an exception).
    /// </summary>
    private void SwitchTask(Segment next, TaskSwitchSource source, uint returnEip, int? errorCode)
    {
        ushort selector = next.Selector;
        bool next32 = (next.Attributes & 0x08) != 0;
        if (next.Limit < (next32 ? 0x67u : 0x2Bu)) throw new CpuFault(Vector.InvalidTss, selector & 0xFFFC);
        bool current32 = (_tr.Attributes & 0x08) != 0;
        if ((_tr.Selector & 0xFFFC) == 0 || _tr.Limit < (current32 ? 0x67u : 0x2Bu)) throw new CpuFault(Vector.InvalidTss, _tr.Selector & 0xFFFC);

        var state = ReadTaskState(next.Base, next32);
        // Every page the switch writes must be there before the first write, so a #PF leaves the old task intact.
        if (_paging)
        {
            uint saveStart = current32 ? 0x20u : 0x0Eu, saveEnd = current32 ? 0x5Fu : 0x29u;
            Translate(_tr.Base + saveStart, write: true, user: false);
            Translate(_tr.Base + saveEnd, write: true, user: false);
            if (source is TaskSwitchSource.Call or TaskSwitchSource.Interrupt) Translate(next.Base, write: true, user: false);
        }

        SaveTaskState(current32, returnEip, source == TaskSwitchSource.Iret ? Eflags & ~FlagNt : Eflags);
        if (source is TaskSwitchSource.Jmp or TaskSwitchSource.Iret) SetTssBusy(_tr.Selector, false);
        if (source is TaskSwitchSource.Call or TaskSwitchSource.Interrupt)
        {
            WriteSystem(next.Base, 2, _tr.Selector);
            state.Eflags |= FlagNt;
        }
        if (source != TaskSwitchSource.Iret) SetTssBusy(selector, true);

        // Commit: from here on the CPU is in the new task and any fault is taken there.
        next.Attributes |= TssBusyBit;
        _tr = next;
        _trBaseHigh = 0;
        _cr0 |= 0x8; // TS: the FPU state still belongs to the old task
        if (next32 && _paging)
        {
            _cr3 = state.Cr3;
            FlushNonGlobalTlb();
        }
        for (int r = RegEax; r <= RegEdi; r++) _gpr[r] = state.Gprs[r];
        Eflags = (state.Eflags & (WritableFlags | FlagVm)) | 2;
        _eip = state.Eip;
        _instrStart = state.Eip;
        _breakBlock = true;
        // Selectors are visible as loaded even when a check below faults; their descriptors come after the LDT.
        for (int seg = SegEs; seg <= SegGs; seg++) _segs[seg] = new Segment { Selector = state.Segs[seg] };
        _ldtr = new Segment { Selector = state.Ldt };
        ModeChanged();
        LoadTaskSegments(state);
        if (_eip > _segs[SegCs].Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        if (errorCode.HasValue) Push((uint)errorCode.Value, next32 ? 4 : 2);
    }

    private TaskState ReadTaskState(uint tss, bool tss32)
    {
        var s = new TaskState { Gprs = new uint[8], Segs = new ushort[6] };
        if (tss32)
        {
            s.Cr3 = ReadSystem(tss + 0x1C, 4);
            s.Eip = ReadSystem(tss + 0x20, 4);
            s.Eflags = ReadSystem(tss + 0x24, 4);
            for (int r = 0; r < 8; r++) s.Gprs[r] = ReadSystem(tss + 0x28 + 4 * (uint)r, 4);
            for (int seg = 0; seg < 6; seg++) s.Segs[seg] = (ushort)ReadSystem(tss + 0x48 + 4 * (uint)seg, 2);
            s.Ldt = (ushort)ReadSystem(tss + 0x60, 2);
            return s;
        }
        // A 16-bit TSS has no CR3, FS or GS; the upper halves of the registers read as ones (as Bochs does).
        s.Eip = ReadSystem(tss + 0x0E, 2);
        s.Eflags = ReadSystem(tss + 0x10, 2);
        for (int r = 0; r < 8; r++) s.Gprs[r] = 0xFFFF_0000 | ReadSystem(tss + 0x12 + 2 * (uint)r, 2);
        for (int seg = 0; seg < 4; seg++) s.Segs[seg] = (ushort)ReadSystem(tss + 0x22 + 2 * (uint)seg, 2);
        s.Ldt = (ushort)ReadSystem(tss + 0x2A, 2);
        return s;
    }

    /// <summary>Writes the dynamic fields of the outgoing task's TSS: EIP, EFLAGS, the GPRs and the segment selectors.</summary>
    private void SaveTaskState(bool tss32, uint eip, uint eflags)
    {
        uint tss = _tr.Base;
        if (tss32)
        {
            WriteSystem(tss + 0x20, 4, eip);
            WriteSystem(tss + 0x24, 4, eflags);
            for (int r = 0; r < 8; r++) WriteSystem(tss + 0x28 + 4 * (uint)r, 4, (uint)_gpr[r]);
            for (int seg = 0; seg < 6; seg++) WriteSystem(tss + 0x48 + 4 * (uint)seg, 2, _segs[seg].Selector);
            return;
        }
        WriteSystem(tss + 0x0E, 2, eip);
        WriteSystem(tss + 0x10, 2, eflags);
        for (int r = 0; r < 8; r++) WriteSystem(tss + 0x12 + 2 * (uint)r, 2, (uint)_gpr[r]);
        for (int seg = 0; seg < 4; seg++) WriteSystem(tss + 0x22 + 2 * (uint)seg, 2, _segs[seg].Selector);
    }

    /// <summary>
    /// Loads and checks the LDT, CS, SS and the data segments of the new task, in that order; faults are #TS(selector),
    /// #NP or #SS. A virtual-8086 task's segments are not descriptors: they load as in real mode.
    /// </summary>
    private void LoadTaskSegments(TaskState state)
    {
        ushort ldt = state.Ldt;
        if ((ldt & 0xFFFC) != 0)
        {
            if ((ldt & 4) != 0) throw new CpuFault(Vector.InvalidTss, ldt & 0xFFFC);
            var desc = ReadDescriptor(ldt, Vector.InvalidTss);
            if ((desc.Attributes & 0x9F) != 0x82) throw new CpuFault(Vector.InvalidTss, ldt & 0xFFFC); // a present LDT
            _ldtr = desc;
        }
        if (V86)
        {
            var s = state.Segs;
            LoadV86Segments(s[SegEs], s[SegCs], s[SegSs], s[SegDs], s[SegFs], s[SegGs]);
            return;
        }

        ushort cs = state.Segs[SegCs];
        if ((cs & 0xFFFC) == 0) throw new CpuFault(Vector.InvalidTss, 0);
        var code = ReadDescriptor(cs, Vector.InvalidTss);
        int cpl = cs & 3, codeDpl = (code.Attributes >> 5) & 3;
        bool conforming = (code.Attributes & 0x04) != 0;
        if ((code.Attributes & 0x18) != 0x18 || (conforming ? codeDpl > cpl : codeDpl != cpl))
            throw new CpuFault(Vector.InvalidTss, cs & 0xFFFC);
        if ((code.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, cs & 0xFFFC);
        _segs[SegCs] = code;

        ushort ss = state.Segs[SegSs];
        var stack = CheckStackSegment(ss, cpl, Vector.InvalidTss);
        _segs[SegSs] = stack;
        ModeChanged();

        foreach (int seg in new[] { SegDs, SegEs, SegFs, SegGs })
        {
            ushort sel = state.Segs[seg];
            if ((sel & 0xFFFC) == 0) continue;
            var desc = ReadDescriptor(sel, Vector.InvalidTss);
            int a = desc.Attributes;
            bool usable = (a & 0x18) == 0x10 || (a & 0x1A) == 0x1A; // data, or readable code
            bool conformingCode = (a & 0x1C) == 0x1C;
            if (!usable || (!conformingCode && ((a >> 5) & 3) < Math.Max(cpl, sel & 3))) throw new CpuFault(Vector.InvalidTss, sel & 0xFFFC);
            if ((a & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, sel & 0xFFFC);
            _segs[seg] = desc;
        }
    }
}
