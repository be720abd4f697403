using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// Interrupts and exceptions in IA-32e mode (from 64-bit or compatibility code) and IRETQ. The IDT holds 16-byte
// 64-bit interrupt and trap gates; the handler runs in 64-bit code on a stack from the 64-bit TSS (RSP0-2 on a
// privilege change, or IST1-7 whenever the gate names one), aligned to 16 bytes, with SS:RSP always pushed.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] LongInterruptOps() => [Op(Mnemonic.Iretq, &Iretq, CpuModes.Long64)];

    private void DeliverLong(int vector, ulong returnRip, InterruptKind kind, int? errorCode)
    {
        uint entry = (uint)vector * 16;
        int gateError = vector * 8 + 2;
        if (entry + 15 > _idtr.Limit) throw new CpuFault(Vector.GeneralProtection, gateError);
        ulong at = _idtr.Base + entry;
        uint lo = ReadSystem(at, 4), hi = ReadSystem(at + 4, 4), upper = ReadSystem(at + 8, 4);
        int type = (int)(hi >> 8) & 0x1F;
        int dpl = (int)(hi >> 13) & 3;
        if (type is not (0x0E or 0x0F)) throw new CpuFault(Vector.GeneralProtection, gateError);
        if (kind == InterruptKind.Software && dpl < Cpl) throw new CpuFault(Vector.GeneralProtection, gateError);
        if ((hi & 0x8000) == 0) throw new CpuFault(Vector.SegmentNotPresent, gateError);
        ushort selector = (ushort)(lo >> 16);
        ulong offset = (lo & 0xFFFF) | (hi & 0xFFFF_0000) | ((ulong)upper << 32);
        int ist = (int)(hi & 7);
        if ((selector & 0xFFFC) == 0) throw new CpuFault(Vector.GeneralProtection, 0);
        var desc = ReadDescriptor(selector);
        if ((desc.Attributes & 0x18) != 0x18 || !desc.Long || desc.Big) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, selector & 0xFFFC);
        int cpl = Cpl;
        int targetCpl = (desc.Attributes & 0x04) != 0 ? cpl : (desc.Attributes >> 5) & 3;
        if (targetCpl > cpl) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        ulong rip = CheckRip(offset);

        ulong oldRsp = _gpr[RegEsp];
        var oldSs = _segs[SegSs];
        ulong rsp = ist != 0 ? TssStack64(0x24 + 8 * (uint)(ist - 1))
            : targetCpl < cpl ? TssStack64(4 + 8 * (uint)targetCpl)
            : oldRsp;
        rsp &= ~0xFUL;
        uint flags = Eflags;
        int frame = errorCode.HasValue ? 6 : 5;
        CheckCanonical(rsp - (ulong)(8 * frame), 8 * frame, SegSs);
        // The frame is written with the handler's privilege (a supervisor-only stack page is fine).
        _cpl = targetCpl;
        try
        {
            ulong top = rsp;
            void Put(ulong value)
            {
                top -= 8;
                WriteLinear64(top, value);
            }
            if (_paging) Translate(rsp - (ulong)(8 * frame), write: true);
            Put(oldSs.Selector);
            Put(oldRsp);
            Put(flags);
            Put(_segs[SegCs].Selector);
            Put(returnRip);
            if (errorCode.HasValue) Put((uint)errorCode.Value);
            rsp = top;
        }
        catch (CpuFault)
        {
            _cpl = cpl;
            throw;
        }
        if (targetCpl < cpl)
        {
            // The new SS is a null selector with RPL = the new CPL.
            _segs[SegSs] = new Segment { Selector = (ushort)targetCpl, Attributes = (ushort)(targetCpl << 5) };
        }
        _gpr[RegEsp] = rsp;
        Eflags &= ~(FlagTf | FlagNt | FlagRf | FlagVm);
        if ((type & 1) == 0) Eflags &= ~FlagIf;
        desc.Selector = (ushort)((selector & 0xFFFC) | targetCpl);
        _segs[SegCs] = desc;
        _eip = rip;
        ModeChanged();
    }

    /// <summary>An RSPn or ISTn field of the 64-bit TSS; #TS(TSS) when the TSS is too short to hold it.</summary>
    private ulong TssStack64(uint field)
    {
        if ((_tr.Selector & 0xFFFC) == 0 || (_tr.Attributes & 0xD) != 0x9 || field + 7 > _tr.Limit)
            throw new CpuFault(Vector.InvalidTss, _tr.Selector & 0xFFFC);
        ulong rsp = ReadSystem(TssBase + field, 4) | ((ulong)ReadSystem(TssBase + field + 4, 4) << 32);
        return rsp;
    }

    /// <summary>
    /// IRETQ: pops RIP, CS, RFLAGS, RSP and SS (all five, whatever the privilege) and returns to 64-bit or
    /// compatibility code at the same or an outer privilege level.
    /// </summary>
    private static void Iretq(InterpreterCpu c, ref DecodedOp d)
    {
        c._breakBlock = true;
        if ((c.Eflags & FlagNt) != 0) throw new CpuFault(Vector.GeneralProtection, 0);
        ulong rip = c.PeekStack64(0, 8);
        ushort selector = (ushort)c.PeekStack64(8, 8);
        uint flags = (uint)c.PeekStack64(16, 8);
        ulong rsp = c.PeekStack64(24, 8);
        ushort ssSelector = (ushort)c.PeekStack64(32, 8);
        int rpl = selector & 3, cpl = c.Cpl;
        if (rpl < cpl) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        var desc = c.LoadCodeDescriptor(selector, (uint)rip, rpl);
        desc.Selector = selector;
        ulong target = desc.Long ? CheckRip(rip) : (uint)rip;
        Segment ss;
        // 64-bit code below ring 3 may run with a null SS.
        if ((ssSelector & 0xFFFC) == 0 && desc.Long && rpl != 3)
            ss = new Segment { Selector = ssSelector, Attributes = (ushort)(rpl << 5) };
        else ss = c.CheckStackSegment(ssSelector, rpl, Vector.GeneralProtection);
        c.WriteFlagsChecked(flags & ~FlagVm, 0x00FF_FFFF & ~0x30000u); // IOPL and IF rules apply at the old CPL
        c._segs[SegCs] = desc;
        c._segs[SegSs] = ss;
        c._eip = target;
        c._gpr[RegEsp] = rsp;
        c.ModeChanged();
        if (rpl > cpl) c.NullSegmentsAbove(rpl);
        c._nmiBlocked = false;
    }
}
