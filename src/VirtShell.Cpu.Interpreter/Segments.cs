namespace VirtShell.Cpu.Interpreter;

// Segment register loads: real mode (base = selector * 16, the cached limit and attributes are kept, which is what
// makes "unreal mode" work) and protected mode (descriptor from the GDT or LDT).
public sealed unsafe partial class InterpreterCpu
{
    /// <summary>CPL: the RPL of CS in protected mode, 0 in real mode.</summary>
    private int Cpl => ProtectedMode ? _segs[SegCs].Selector & 3 : 0;

    private void LoadSegment(int seg, ushort selector)
    {
        if (!ProtectedMode)
        {
            LoadSegmentReal(seg, selector);
            return;
        }
        if (seg == SegCs) throw new CpuFault(Vector.InvalidOpcode);
        if ((selector & 0xFFFC) == 0)
        {
            if (seg == SegSs) throw new CpuFault(Vector.GeneralProtection, 0);
            _segs[seg] = new Segment { Selector = selector };
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
            if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, selector & 0xFFFC);
        }
        desc.Selector = selector;
        _segs[seg] = desc;
        if (seg == SegSs) _stack32 = desc.Big;
    }

    private void LoadSegmentReal(int seg, ushort selector)
    {
        ref var s = ref _segs[seg];
        s.Selector = selector;
        s.Base = (uint)selector << 4;
        if (seg == SegCs) _breakBlock = true;
    }

    /// <summary>Reads and decodes the descriptor a selector names; #GP(selector) when it lies outside its table.</summary>
    private Segment ReadDescriptor(ushort selector)
    {
        bool ldt = (selector & 4) != 0;
        uint tableBase = ldt ? _ldtr.Base : (uint)_gdtr.Base;
        uint tableLimit = ldt ? _ldtr.Limit : _gdtr.Limit;
        uint index = selector & 0xFFF8u;
        if (index + 7 > tableLimit || (ldt && (_ldtr.Selector & 0xFFFC) == 0)) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        uint lo = ReadLinear(tableBase + index, 4);
        uint hi = ReadLinear(tableBase + index + 4, 4);
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

    /// <summary>JMP/CALL far: real mode loads CS directly; protected mode supports code-segment targets at the same privilege.</summary>
    private void FarJump(ushort selector, uint offset, int size, bool call)
    {
        if (!ProtectedMode)
        {
            if (call)
            {
                uint sp = Sp;
                Linear(SegSs, (sp - 2 * (uint)size) & StackMask, 2 * size);
                Push(_segs[SegCs].Selector, size);
                Push(_eip, size);
            }
            LoadSegmentReal(SegCs, selector);
            _eip = offset;
            ModeChanged();
            return;
        }
        var desc = LoadCodeDescriptor(selector, offset);
        if (call)
        {
            uint sp = Sp;
            Linear(SegSs, (sp - 2 * (uint)size) & StackMask, 2 * size);
            Push(_segs[SegCs].Selector, size);
            Push(_eip, size);
        }
        desc.Selector = (ushort)((selector & 0xFFFC) | Cpl);
        _segs[SegCs] = desc;
        _eip = offset;
        ModeChanged();
    }

    private Segment LoadCodeDescriptor(ushort selector, uint offset)
    {
        if ((selector & 0xFFFC) == 0) throw new CpuFault(Vector.GeneralProtection, 0);
        var desc = ReadDescriptor(selector);
        bool codeSegment = (desc.Attributes & 0x18) == 0x18;
        if (!codeSegment)
            throw new UnimplementedInstruction($"far transfer through system descriptor (type {desc.Attributes & 0x1F:x2}, selector {selector:x4}): gates and task switches are not implemented");
        int dpl = (desc.Attributes >> 5) & 3;
        bool conforming = (desc.Attributes & 0x04) != 0;
        if (conforming ? dpl > Cpl : dpl != Cpl) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, selector & 0xFFFC);
        if (offset > desc.Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        return desc;
    }

    private void FarReturnProtected(ushort selector, uint offset, int size, uint release)
    {
        if ((selector & 3) != Cpl)
            throw new UnimplementedInstruction($"far return to another privilege level (selector {selector:x4}) is not implemented");
        var desc = LoadCodeDescriptor(selector, offset);
        desc.Selector = selector;
        _segs[SegCs] = desc;
        _eip = offset;
        SetSp(Sp + 2 * (uint)size + release);
        ModeChanged();
    }

    private void IretProtected(int size)
    {
        if ((Eflags & FlagNt) != 0) throw new UnimplementedInstruction("IRET with NT=1 (task return) is not implemented");
        uint offset = PeekStack(0, size);
        ushort selector = (ushort)PeekStack((uint)size, size);
        uint flags = PeekStack(2 * (uint)size, size);
        if ((selector & 3) != Cpl)
            throw new UnimplementedInstruction($"IRET to another privilege level (selector {selector:x4}) is not implemented");
        var desc = LoadCodeDescriptor(selector, offset);
        desc.Selector = selector;
        _segs[SegCs] = desc;
        _eip = offset;
        SetSp(Sp + 3 * (uint)size);
        WriteFlagsChecked(flags, size == 4 ? 0x00FF_FFFFu & ~0x30000u : 0xFFFF);
        ModeChanged();
    }

    private void DeliverProtected(int vector, uint returnEip, InterruptKind kind, int? errorCode)
    {
        uint entry = (uint)vector * 8;
        if (entry + 7 > _idtr.Limit) throw new CpuFault(Vector.GeneralProtection, vector * 8 + 2);
        uint lo = ReadLinear((uint)_idtr.Base + entry, 4);
        uint hi = ReadLinear((uint)_idtr.Base + entry + 4, 4);
        int type = (int)(hi >> 8) & 0x1F;
        int dpl = (int)(hi >> 13) & 3;
        if (kind == InterruptKind.Software && dpl < Cpl) throw new CpuFault(Vector.GeneralProtection, vector * 8 + 2);
        if ((hi & 0x8000) == 0) throw new CpuFault(Vector.SegmentNotPresent, vector * 8 + 2);
        if (type is not (0x06 or 0x07 or 0x0E or 0x0F))
            throw new UnimplementedInstruction($"interrupt {vector} through IDT gate type {type:x2}: only interrupt and trap gates are implemented");
        ushort selector = (ushort)(lo >> 16);
        uint offset = (lo & 0xFFFF) | (hi & 0xFFFF_0000);
        int size = (type & 0x08) != 0 ? 4 : 2;
        if (size == 2) offset &= 0xFFFF;
        var desc = ReadDescriptor(selector);
        if ((desc.Attributes & 0x18) != 0x18) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        if (((desc.Attributes >> 5) & 3) != Cpl && (desc.Attributes & 0x04) == 0)
            throw new UnimplementedInstruction($"interrupt {vector} to another privilege level is not implemented (no TSS stack switch)");
        uint frame = (uint)size * (errorCode.HasValue ? 4u : 3u);
        Linear(SegSs, (Sp - frame) & StackMask, (int)frame);
        Push(Eflags, size);
        Push(_segs[SegCs].Selector, size);
        Push(returnEip, size);
        if (errorCode.HasValue) Push((uint)errorCode.Value, size);
        Eflags &= ~(FlagTf | FlagNt | 0x10000u);
        if ((type & 1) == 0) Eflags &= ~FlagIf;
        desc.Selector = (ushort)((selector & 0xFFFC) | Cpl);
        _segs[SegCs] = desc;
        _eip = offset;
        ModeChanged();
    }
}
