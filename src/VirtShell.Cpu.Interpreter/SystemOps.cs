using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// LGDT LIDT SGDT SIDT LMSW SMSW CLTS MOV CRn, LLDT LTR SLDT STR, LAR LSL VERR VERW ARPL, cache-control no-ops.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] SystemOps() =>
    [
        Op(Mnemonic.Lgdt, &LoadTableRegister), Op(Mnemonic.Lidt, &LoadTableRegister),
        Op(Mnemonic.Sgdt, &StoreTableRegister), Op(Mnemonic.Sidt, &StoreTableRegister),
        Op(Mnemonic.Lmsw, &Lmsw, CpuModes.LegacyAndLong), Op(Mnemonic.Smsw, &Smsw, CpuModes.LegacyAndLong),
        Op(Mnemonic.Clts, &Clts, CpuModes.LegacyAndLong), Op(Mnemonic.Lldt, &Lldt, CpuModes.LegacyAndLong),
        Op(Mnemonic.Ltr, &Ltr, CpuModes.LegacyAndLong), Op(Mnemonic.Sldt, &Sldt, CpuModes.LegacyAndLong),
        Op(Mnemonic.Str, &Str, CpuModes.LegacyAndLong), Op(Mnemonic.Arpl, &Arpl),
        Op(Mnemonic.Stac, &Stac, CpuModes.LegacyAndLong), Op(Mnemonic.Clac, &Clac, CpuModes.LegacyAndLong),
        Op(Mnemonic.Lar, &LarLsl), Op(Mnemonic.Lsl, &LarLsl), Op(Mnemonic.Verr, &Verify, CpuModes.LegacyAndLong),
        Op(Mnemonic.Verw, &Verify, CpuModes.LegacyAndLong), Op(Mnemonic.Wbinvd, &Privileged, CpuModes.LegacyAndLong),
        Op(Mnemonic.Invd, &Privileged, CpuModes.LegacyAndLong), Op(Mnemonic.Invlpg, &Invlpg, CpuModes.LegacyAndLong),
    ];

    /// <summary>STAC and CLAC set and clear EFLAGS.AC, which lifts SMAP; #UD outside ring 0 (and in V86 mode).</summary>
    private static void Stac(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.V86 || (c.ProtectedMode && c.Cpl != 0)) throw new CpuFault(Vector.InvalidOpcode);
        c._flagBits |= FlagAc;
    }

    private static void Clac(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.V86 || (c.ProtectedMode && c.Cpl != 0)) throw new CpuFault(Vector.InvalidOpcode);
        c._flagBits &= ~FlagAc;
    }

    private void RequireCpl0()
    {
        if (ProtectedMode && Cpl != 0) throw new CpuFault(Vector.GeneralProtection, 0);
    }

    private static void Privileged(InterpreterCpu c, ref DecodedOp d) => c.RequireCpl0();

    /// <summary>
    /// The descriptor a selector names if the current privilege may inspect it (LAR LSL VERR VERW), else null: these
    /// instructions report failure in ZF instead of faulting.
    /// </summary>
    private Segment? InspectableDescriptor(ushort selector)
    {
        if ((selector & 0xFFFC) == 0) return null;
        Segment desc;
        try
        {
            desc = ReadDescriptor(selector);
        }
        catch (CpuFault f) when (f.Vector == Vector.GeneralProtection)
        {
            return null;
        }
        bool conformingCode = (desc.Attributes & 0x1C) == 0x1C;
        if (!conformingCode && ((desc.Attributes >> 5) & 3) < Math.Max(Cpl, selector & 3)) return null;
        return desc;
    }

    private static void LarLsl(InterpreterCpu c, ref DecodedOp d)
    {
        if (!c.ProtectedMode || c.V86) throw new CpuFault(Vector.InvalidOpcode);
        var desc = c.InspectableDescriptor((ushort)c.ReadOp(ref d, 1));
        bool lar = d.I.Mnemonic == Mnemonic.Lar;
        int type = desc?.Attributes & 0x1F ?? 0;
        // System types LAR may see: TSS (1 3 9 B), LDT (2), call gates (4 C), task gate (5); LSL only those with a limit.
        bool valid = desc != null && ((type & 0x10) != 0 || (lar ? type is 1 or 2 or 3 or 4 or 5 or 9 or 0xB or 0xC : type is 1 or 2 or 3 or 9 or 0xB));
        if (!valid)
        {
            c.Eflags &= ~FlagZf;
            return;
        }
        var s = desc!.Value;
        uint value = lar ? (((uint)s.Attributes & 0xFF) << 8) | (((uint)s.Attributes & 0xF000) << 8) : s.Limit;
        c.WriteReg(d.I.Op0Register, value & SizeMask(d.OpSize));
        c.Eflags |= FlagZf;
    }

    private static void Verify(InterpreterCpu c, ref DecodedOp d)
    {
        if (!c.ProtectedMode || c.V86) throw new CpuFault(Vector.InvalidOpcode);
        var desc = c.InspectableDescriptor((ushort)c.ReadOp(ref d, 0));
        int a = desc?.Attributes ?? 0;
        bool code = (a & 0x18) == 0x18, data = (a & 0x18) == 0x10;
        bool ok = d.I.Mnemonic == Mnemonic.Verr ? data || (code && (a & 0x02) != 0) : data && (a & 0x02) != 0;
        if (ok) c.Eflags |= FlagZf; else c.Eflags &= ~FlagZf;
    }

    private static void Arpl(InterpreterCpu c, ref DecodedOp d)
    {
        if (!c.ProtectedMode || c.V86) throw new CpuFault(Vector.InvalidOpcode);
        // A read first: the CPU writes the destination only when the RPL changes, so an unchanged selector in a
        // read-only segment does not fault.
        uint dst = c.ReadOp(ref d, 0);
        uint src = c.ReadOp(ref d, 1);
        if ((dst & 3) < (src & 3))
        {
            c.Eflags |= FlagZf;
            c.ReadDst(ref d);
            c.WriteDst(ref d, (dst & ~3u) | (src & 3));
        }
        else c.Eflags &= ~FlagZf;
    }

    private ulong ReadControlRegister(int n)
    {
        RequireCpl0(); // reads are privileged too (ring 3 and virtual-8086 mode)
        return n switch
        {
            0 => _cr0,
            2 => _cr2,
            3 => _cr3,
            4 => _cr4,
            _ => throw new CpuFault(Vector.InvalidOpcode),
        };
    }

    private void WriteControlRegister(int n, uint v)
    {
        RequireCpl0();
        switch (n)
        {
            case 0:
                if ((v & 0x8000_0001) == 0x8000_0000) throw new CpuFault(Vector.GeneralProtection, 0); // PG without PE
                UpdateLongModeActive(v);
                _cr0 = v | 0x10;
                ModeChanged();
                PagingModeChanged();
                break;
            case 2: _cr2 = v; break;
            case 3: _cr3 = v; FlushNonGlobalTlb(); break;
            case 4:
                if ((v & ~(Cr4De | Cr4Pse | Cr4Pae | Cr4Pge | Cr4Osfxsr | Cr4Osxmmexcpt | Cr4Smap)) != 0) throw new CpuFault(Vector.GeneralProtection, 0); // only DE, PSE, PAE, PGE, OSFXSR, OSXMMEXCPT and SMAP exist here
                if (Lma && (v & Cr4Pae) == 0) throw new CpuFault(Vector.GeneralProtection, 0); // IA-32e mode needs PAE
                if (_paging && !Lma && (v & Cr4Pae) != 0) throw new UnimplementedInstruction("PAE paging outside IA-32e mode");
                _cr4 = v;
                FlushTlb();
                break;
            default: throw new CpuFault(Vector.InvalidOpcode);
        }
    }

    private static void LoadTableRegister(InterpreterCpu c, ref DecodedOp d)
    {
        c.RequireCpl0();
        uint addr = c.EffectiveAddress(ref d);
        uint limit = c.ReadMem16(d.Seg, addr);
        uint b = c.ReadMem(d.Seg, (addr + 2) & d.AddrMask, 4);
        // With a 16-bit operand size only 24 bits of the base are loaded.
        if (d.OpSize != 4) b &= 0xFF_FFFF;
        var t = new Pc.DescriptorTableState { Base = b, Limit = (ushort)limit };
        if (d.I.Mnemonic == Mnemonic.Lgdt) c._gdtr = t; else c._idtr = t;
    }

    private static void StoreTableRegister(InterpreterCpu c, ref DecodedOp d)
    {
        var t = d.I.Mnemonic == Mnemonic.Sgdt ? c._gdtr : c._idtr;
        uint addr = c.EffectiveAddress(ref d);
        c.LinearWrite(d.Seg, addr, 6);
        c.WriteMem(d.Seg, addr, 2, t.Limit);
        c.WriteMem(d.Seg, (addr + 2) & d.AddrMask, 4, (uint)t.Base);
    }

    private static void Lmsw(InterpreterCpu c, ref DecodedOp d)
    {
        c.RequireCpl0();
        uint v = c.ReadOp(ref d, 0);
        // LMSW can set PE but never clear it.
        c._cr0 = (c._cr0 & ~0xEu) | (v & 0xF) | (c._cr0 & 1);
        c.ModeChanged();
        c.PagingModeChanged();
    }

    private static void Smsw(InterpreterCpu c, ref DecodedOp d) =>
        c.WriteOp0(ref d, d.I.Op0Kind == OpKind.Register && d.OpSize == 4 ? c._cr0 : c._cr0 & 0xFFFF);

    private static void Clts(InterpreterCpu c, ref DecodedOp d)
    {
        c.RequireCpl0();
        c._cr0 &= ~0x8u;
    }

    private static void Lldt(InterpreterCpu c, ref DecodedOp d)
    {
        if (!c.ProtectedMode || c.V86) throw new CpuFault(Vector.InvalidOpcode);
        c.RequireCpl0();
        ushort sel = (ushort)c.ReadOp(ref d, 0);
        if ((sel & 0xFFFC) == 0) { c._ldtr = new Segment { Selector = sel }; return; }
        if ((sel & 4) != 0) throw new CpuFault(Vector.GeneralProtection, sel & 0xFFFC);
        var desc = c.ReadDescriptor(sel);
        if ((desc.Attributes & 0x1F) != 0x02) throw new CpuFault(Vector.GeneralProtection, sel & 0xFFFC);
        if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, sel & 0xFFFC);
        c._ldtr = desc;
    }

    private static void Ltr(InterpreterCpu c, ref DecodedOp d)
    {
        if (!c.ProtectedMode || c.V86) throw new CpuFault(Vector.InvalidOpcode);
        c.RequireCpl0();
        ushort sel = (ushort)c.ReadOp(ref d, 0);
        if ((sel & 0xFFFC) == 0) throw new CpuFault(Vector.GeneralProtection, 0);
        if ((sel & 4) != 0) throw new CpuFault(Vector.GeneralProtection, sel & 0xFFFC);
        var desc = c.ReadDescriptor(sel);
        if ((desc.Attributes & 0x17) != 0x01) throw new CpuFault(Vector.GeneralProtection, sel & 0xFFFC); // an available TSS
        // In IA-32e mode the descriptor is 16 bytes, bits 32-63 of the base in the third doubleword.
        uint baseHigh = c.Lma ? c.ReadSystem(c.DescriptorAddress(sel) + 8, 4) : 0;
        if (c.Lma && !Canonical(((ulong)baseHigh << 32) | desc.Base)) throw new CpuFault(Vector.GeneralProtection, sel & 0xFFFC);
        if ((desc.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, sel & 0xFFFC);
        c.SetTssBusy(sel, true);
        desc.Attributes |= TssBusyBit;
        c._tr = desc;
        c._trBaseHigh = baseHigh;
    }

    private static void Sldt(InterpreterCpu c, ref DecodedOp d)
    {
        if (!c.ProtectedMode || c.V86) throw new CpuFault(Vector.InvalidOpcode);
        c.WriteOp0(ref d, c._ldtr.Selector);
    }

    private static void Str(InterpreterCpu c, ref DecodedOp d)
    {
        if (!c.ProtectedMode || c.V86) throw new CpuFault(Vector.InvalidOpcode);
        c.WriteOp0(ref d, c._tr.Selector);
    }
}
