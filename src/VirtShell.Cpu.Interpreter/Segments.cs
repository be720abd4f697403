namespace VirtShell.Cpu.Interpreter;

// Segment register loads: real mode (base = selector * 16, the cached limit and attributes are kept, which is what
// makes "unreal mode" work) and protected mode (descriptor from the GDT or LDT).
public sealed unsafe partial class InterpreterCpu
{
    /// <summary>CPL: the RPL of CS in protected mode, 3 in virtual-8086 mode, 0 in real mode; kept by ModeChanged.</summary>
    private int _cpl;
    private int Cpl => _cpl;

    private void LoadSegment(int seg, ushort selector)
    {
        if (!ProtectedMode || V86)
        {
            LoadSegmentReal(seg, selector);
            return;
        }
        if (seg == SegCs) throw new CpuFault(Vector.InvalidOpcode);
        if ((selector & 0xFFFC) == 0)
        {
            // 64-bit code below ring 3 may load a null SS (with RPL = CPL); anywhere else it is #GP(0).
            if (seg == SegSs && !(_mode64 && Cpl != 3 && (selector & 3) == Cpl)) throw new CpuFault(Vector.GeneralProtection, 0);
            _segs[seg] = new Segment { Selector = selector };
            if (seg == SegFs) _fsBaseHigh = 0;
            else if (seg == SegGs) _gsBaseHigh = 0;
            return;
        }
        var desc = ReadDescriptor(selector);
        bool system = (desc.Attributes & 0x10) == 0;
        bool code = (desc.Attributes & 0x08) != 0;
        bool readable = (desc.Attributes & 0x02) != 0;
        if (seg == SegSs)
        {
            if (system || code || !readable || (selector & 3) != Cpl) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
            if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.StackFault, selector & 0xFFFC);
        }
        else
        {
            if (system || (code && !readable)) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
            bool conforming = code && (desc.Attributes & 0x04) != 0;
            if (!conforming && ((desc.Attributes >> 5) & 3) < Math.Max(Cpl, selector & 3))
                throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
            if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, selector & 0xFFFC);
        }
        desc.Selector = selector;
        _segs[seg] = desc;
        if (seg == SegSs) _stack32 = desc.Big;
        else if (seg == SegFs) _fsBaseHigh = 0;
        else if (seg == SegGs) _gsBaseHigh = 0;
    }

    private void LoadSegmentReal(int seg, ushort selector)
    {
        ref var s = ref _segs[seg];
        s.Selector = selector;
        s.Base = (uint)selector << 4;
        if (seg == SegCs) _breakBlock = true;
        else if (seg == SegFs) _fsBaseHigh = 0;
        else if (seg == SegGs) _gsBaseHigh = 0;
    }

    /// <summary>Reads and decodes the descriptor a selector names; <paramref name="faultVector"/>(selector) when it lies outside its table.</summary>
    private Segment ReadDescriptor(ushort selector, int faultVector = Vector.GeneralProtection)
    {
        var (lo, hi) = ReadDescriptorWords(selector, faultVector);
        return DecodeDescriptor(selector, lo, hi);
    }

    /// <summary>The two doublewords of the descriptor a selector names (gates are decoded from these directly).</summary>
    private (uint Lo, uint Hi) ReadDescriptorWords(ushort selector, int faultVector = Vector.GeneralProtection)
    {
        ulong at = DescriptorAddress(selector, faultVector);
        return (ReadSystem(at, 4), ReadSystem(at + 4, 4));
    }

    /// <summary>The linear address of the descriptor a selector names, checked against its table's limit.</summary>
    private ulong DescriptorAddress(ushort selector, int faultVector = Vector.GeneralProtection)
    {
        bool ldt = (selector & 4) != 0;
        ulong tableBase = ldt ? _ldtr.Base : _gdtr.Base; // the GDT lies above 4 GiB only in IA-32e mode
        uint tableLimit = ldt ? _ldtr.Limit : _gdtr.Limit;
        uint index = selector & 0xFFF8u;
        if (index + 7 > tableLimit || (ldt && (_ldtr.Selector & 0xFFFC) == 0)) throw new CpuFault(faultVector, selector & 0xFFFC);
        return tableBase + index;
    }

    private static Segment DecodeDescriptor(ushort selector, uint lo, uint hi)
    {
        uint limit = (lo & 0xFFFF) | (hi & 0xF_0000);
        if ((hi & 0x80_0000) != 0) limit = (limit << 12) | 0xFFF;
        return new Segment
        {
            Selector = selector,
            Base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF00_0000),
            Limit = limit,
            Attributes = (ushort)(((hi >> 8) & 0xFF) | ((hi >> 8) & 0xF000)),
        };
    }

    /// <summary>
    /// JMP/CALL far. Real mode loads CS directly; protected mode goes to a code segment at the same privilege, or
    /// through a call gate, task gate or TSS descriptor (CallGates.cs, TaskSwitch.cs).
    /// </summary>
    private void FarJump(ushort selector, uint offset, int size, bool call)
    {
        if (!ProtectedMode || V86)
        {
            if (call) PushFarReturn(size);
            LoadSegmentReal(SegCs, selector);
            _eip = offset;
            ModeChanged();
            return;
        }
        if ((selector & 0xFFFC) == 0) throw new CpuFault(Vector.GeneralProtection, 0);
        var (lo, hi) = ReadDescriptorWords(selector);
        if ((hi & 0x1000) == 0)
        {
            // IA-32e call gates are 16 bytes and task switching does not exist there.
            if (Lma) throw new UnimplementedInstruction($"far {(call ? "CALL" : "JMP")} through a system descriptor in IA-32e mode");
            FarTransferThroughSystemDescriptor(selector, lo, hi, call);
            return;
        }
        var desc = DecodeDescriptor(selector, lo, hi);
        // A non-conforming target also needs RPL <= CPL; the conforming and DPL rules are CheckCodeDescriptor's.
        if ((desc.Attributes & 0x1C) == 0x18 && (selector & 3) > Cpl) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        desc = CheckCodeDescriptor(desc, offset, Cpl);
        if (call) PushFarReturn(size);
        EnterCodeAtSameLevel(desc, selector, offset);
    }

    /// <summary>Pushes CS and EIP for a far CALL, both or neither: the whole frame is checked before the first push.</summary>
    private void PushFarReturn(int size)
    {
        LinearWrite(SegSs, (Sp - 2 * (uint)size) & StackMask, 2 * size);
        Push(_segs[SegCs].Selector, size);
        Push((uint)_eip, size);
    }

    /// <summary>Loads a checked code segment at the current privilege (its RPL becomes CPL) and jumps to it.</summary>
    private void EnterCodeAtSameLevel(Segment code, ushort selector, uint offset)
    {
        code.Selector = (ushort)((selector & 0xFFFC) | Cpl);
        _segs[SegCs] = code;
        _eip = offset;
        ModeChanged();
    }

    /// <summary>Reads and checks a code segment for a return (RETF, IRET) that will run at privilege <paramref name="targetCpl"/>.</summary>
    private Segment LoadCodeDescriptor(ushort selector, uint offset, int targetCpl)
    {
        if ((selector & 0xFFFC) == 0) throw new CpuFault(Vector.GeneralProtection, 0);
        return CheckCodeDescriptor(ReadDescriptor(selector), offset, targetCpl);
    }

    /// <summary>Checks that a descriptor is a present code segment that may run at <paramref name="targetCpl"/> and holds <paramref name="offset"/>.</summary>
    private Segment CheckCodeDescriptor(Segment desc, uint offset, int targetCpl)
    {
        ushort selector = desc.Selector;
        if ((desc.Attributes & 0x18) != 0x18) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        int dpl = (desc.Attributes >> 5) & 3;
        bool conforming = (desc.Attributes & 0x04) != 0;
        if (conforming ? dpl > targetCpl : dpl != targetCpl) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, selector & 0xFFFC);
        if (Lma && desc.Long)
        {
            // A 64-bit code segment: L with D is reserved, and there is no limit to check.
            if (desc.Big) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
            return desc;
        }
        if (offset > desc.Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        return desc;
    }

    private void FarReturnProtected(ushort selector, uint offset, int size, uint release)
    {
        int rpl = selector & 3;
        if (rpl < Cpl) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        var desc = LoadCodeDescriptor(selector, offset, rpl);
        desc.Selector = selector;
        if (rpl == Cpl)
        {
            _segs[SegCs] = desc;
            _eip = offset;
            SetSp(Sp + 2 * (uint)size + release);
            ModeChanged();
            return;
        }
        uint outerEsp = PeekStack(2 * (uint)size + release, size);
        ushort outerSs = (ushort)PeekStack(3 * (uint)size + release, size);
        var ss = CheckStackSegment(outerSs, rpl, Vector.GeneralProtection);
        _segs[SegCs] = desc;
        _eip = offset;
        ReturnToOuterLevel(ss, outerEsp + release);
    }

    /// <summary>Checks a stack segment for privilege <paramref name="level"/>: a present writable data segment with RPL = DPL = level.</summary>
    private Segment CheckStackSegment(ushort selector, int level, int faultVector)
    {
        if ((selector & 0xFFFC) == 0) throw new CpuFault(faultVector, 0);
        var desc = ReadDescriptor(selector, faultVector);
        bool writableData = (desc.Attributes & 0x1A) == 0x12;
        if (!writableData || (selector & 3) != level || ((desc.Attributes >> 5) & 3) != level)
            throw new CpuFault(faultVector, selector & 0xFFFC);
        if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.StackFault, selector & 0xFFFC);
        return desc;
    }

    /// <summary>Completes a return to an outer privilege level: the outer stack, then data segments the new CPL may not use are nulled.</summary>
    private void ReturnToOuterLevel(Segment ss, uint esp)
    {
        _segs[SegSs] = ss;
        ModeChanged();
        _gpr[RegEsp] = _stack32 ? esp : (_gpr[RegEsp] & ~0xFFFFUL) | (esp & 0xFFFF);
        NullSegmentsAbove(Cpl);
    }

    /// <summary>After a return outwards: data segments the new privilege level may not use are nulled.</summary>
    private void NullSegmentsAbove(int cpl)
    {
        foreach (int seg in new[] { SegEs, SegDs, SegFs, SegGs })
        {
            ref var s = ref _segs[seg];
            bool conformingCode = (s.Attributes & 0x1C) == 0x1C;
            if ((s.Selector & 0xFFFC) != 0 && !conformingCode && ((s.Attributes >> 5) & 3) < cpl) s = new Segment();
        }
    }

    private void IretProtected(int size)
    {
        if ((Eflags & FlagNt) != 0)
        {
            if (Lma) throw new CpuFault(Vector.GeneralProtection, 0); // no task switches in IA-32e mode
            ReturnFromNestedTask();
            return;
        }
        uint offset = PeekStack(0, size);
        ushort selector = (ushort)PeekStack((uint)size, size);
        uint flags = PeekStack(2 * (uint)size, size);
        int rpl = selector & 3;
        if (rpl < Cpl) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        if (size == 4 && (flags & FlagVm) != 0 && Cpl == 0)
        {
            IretToV86();
            return;
        }
        var desc = LoadCodeDescriptor(selector, offset, rpl);
        desc.Selector = selector;
        uint flagWidth = size == 4 ? 0x00FF_FFFFu & ~0x30000u : 0xFFFF;
        if (rpl == Cpl)
        {
            _segs[SegCs] = desc;
            _eip = offset;
            SetSp(Sp + 3 * (uint)size);
            WriteFlagsChecked(flags, flagWidth);
            if (size == 4) LoadResumeFlag(flags);
            ModeChanged();
            return;
        }
        uint outerEsp = PeekStack(3 * (uint)size, size);
        ushort outerSs = (ushort)PeekStack(4 * (uint)size, size);
        var ss = CheckStackSegment(outerSs, rpl, Vector.GeneralProtection);
        WriteFlagsChecked(flags, flagWidth); // IOPL and IF rules apply at the old, inner CPL
        if (size == 4) LoadResumeFlag(flags);
        _segs[SegCs] = desc;
        _eip = offset;
        ReturnToOuterLevel(ss, outerEsp);
    }

    /// <summary>The stack for privilege <paramref name="level"/> from the current TSS (32-bit or 16-bit format).</summary>
    private (ushort Ss, uint Esp) TssStack(int level)
    {
        int type = _tr.Attributes & 0xF;
        if ((_tr.Selector & 0xFFFC) == 0 || type is not (0x1 or 0x3 or 0x9 or 0xB)) throw new CpuFault(Vector.InvalidTss, _tr.Selector & 0xFFFC);
        bool tss32 = type >= 0x9;
        uint at = tss32 ? 4 + 8 * (uint)level : 2 + 4 * (uint)level;
        if (at + (tss32 ? 5u : 3u) > _tr.Limit) throw new CpuFault(Vector.InvalidTss, _tr.Selector & 0xFFFC);
        return tss32
            ? ((ushort)ReadSystem(_tr.Base + at + 4, 2), ReadSystem(_tr.Base + at, 4))
            : ((ushort)ReadSystem(_tr.Base + at + 2, 2), ReadSystem(_tr.Base + at, 2));
    }

    private void DeliverProtected(int vector, ulong returnEip, InterruptKind kind, int? errorCode)
    {
        if (Lma)
        {
            DeliverLong(vector, returnEip, kind, errorCode);
            return;
        }
        uint entry = (uint)vector * 8;
        if (entry + 7 > _idtr.Limit) throw new CpuFault(Vector.GeneralProtection, vector * 8 + 2);
        uint lo = ReadSystem((uint)_idtr.Base + entry, 4);
        uint hi = ReadSystem((uint)_idtr.Base + entry + 4, 4);
        int type = (int)(hi >> 8) & 0x1F;
        int dpl = (int)(hi >> 13) & 3;
        if (type is not (0x05 or 0x06 or 0x07 or 0x0E or 0x0F)) throw new CpuFault(Vector.GeneralProtection, vector * 8 + 2);
        if (kind == InterruptKind.Software && dpl < Cpl) throw new CpuFault(Vector.GeneralProtection, vector * 8 + 2);
        if ((hi & 0x8000) == 0) throw new CpuFault(Vector.SegmentNotPresent, vector * 8 + 2);
        if (type == 0x05)
        {
            InterruptThroughTaskGate((ushort)(lo >> 16), (uint)returnEip, errorCode);
            return;
        }
        ushort selector = (ushort)(lo >> 16);
        uint offset = (lo & 0xFFFF) | (hi & 0xFFFF_0000);
        int size = (type & 0x08) != 0 ? 4 : 2;
        if (size == 2) offset &= 0xFFFF;
        var desc = ReadDescriptor(selector);
        if ((desc.Attributes & 0x18) != 0x18) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, selector & 0xFFFC);
        int cpl = Cpl;
        int targetCpl = (desc.Attributes & 0x04) != 0 ? cpl : (desc.Attributes >> 5) & 3;
        bool fromV86 = V86;
        // Virtual-8086 code is interrupted only into a ring-0 non-conforming handler, which gets its segments too.
        if (targetCpl > cpl || (fromV86 && targetCpl != 0)) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        uint flags = Eflags;
        var oldSs = _segs[SegSs];
        uint oldEsp = (uint)_gpr[RegEsp];
        try
        {
            if (targetCpl < cpl)
            {
                // Inner privilege: the handler's stack comes from the TSS, and the old SS:ESP is pushed on it first.
                // The frame is written with the handler's privilege (a supervisor-only stack page is fine).
                var (innerSs, innerEsp) = TssStack(targetCpl);
                var ss = CheckStackSegment(innerSs, targetCpl, Vector.InvalidTss);
                _segs[SegSs] = ss;
                _stack32 = ss.Big;
                _cpl = targetCpl;
                SetSp(innerEsp);
                uint frame = (uint)size * ((errorCode.HasValue ? 6u : 5u) + (fromV86 ? 4u : 0));
                LinearWrite(SegSs, (Sp - frame) & StackMask, (int)frame);
                if (fromV86)
                    foreach (int seg in new[] { SegGs, SegFs, SegDs, SegEs }) Push(_segs[seg].Selector, size);
                Push(oldSs.Selector, size);
                Push(oldEsp, size);
            }
            else
            {
                uint frame = (uint)size * (errorCode.HasValue ? 4u : 3u);
                LinearWrite(SegSs, (Sp - frame) & StackMask, (int)frame);
            }
            Push(flags, size);
            Push(_segs[SegCs].Selector, size);
            Push((uint)returnEip, size);
            if (errorCode.HasValue) Push((uint)errorCode.Value, size);
        }
        catch (CpuFault)
        {
            _segs[SegSs] = oldSs;
            _stack32 = oldSs.Big;
            _gpr[RegEsp] = oldEsp;
            _cpl = cpl;
            throw;
        }
        Eflags &= ~(FlagTf | FlagNt | FlagRf | FlagVm);
        if ((type & 1) == 0) Eflags &= ~FlagIf;
        if (fromV86)
            foreach (int seg in new[] { SegEs, SegDs, SegFs, SegGs }) _segs[seg] = new Segment();
        desc.Selector = (ushort)((selector & 0xFFFC) | targetCpl);
        _segs[SegCs] = desc;
        _eip = offset;
        ModeChanged();
    }
}
