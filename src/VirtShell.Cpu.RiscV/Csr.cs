namespace VirtShell.Cpu.RiscV;

/// <summary>mstatus fields (3.1.6).</summary>
internal static class Status
{
    public const ulong Sie = 1 << 1, Mie = 1 << 3, Spie = 1 << 5, Mpie = 1 << 7, Spp = 1 << 8, Mpp = 3 << 11,
        Fs = 3 << 13, Mprv = 1 << 17, Sum = 1 << 18, Mxr = 1 << 19, Tvm = 1 << 20, Tw = 1 << 21, Tsr = 1 << 22,
        Uxl = 2UL << 32, Sxl = 2UL << 34, Sd = 1UL << 63;
    /// <summary>What M-mode may write (UXL and SXL are fixed at 64 bits; no vector unit, no XS).</summary>
    public const ulong MachineWritable = Sie | Mie | Spie | Mpie | Spp | Mpp | Fs | Mprv | Sum | Mxr | Tvm | Tw | Tsr;
    /// <summary>The view sstatus gives of mstatus.</summary>
    public const ulong SupervisorView = Sie | Spie | Spp | Fs | Sum | Mxr | Uxl | Sd;
    public const ulong SupervisorWritable = Sie | Spie | Spp | Fs | Sum | Mxr;
    /// <summary>Fields whose change alters how addresses translate, so the TLB goes.</summary>
    public const ulong Translation = Mprv | Mpp | Sum | Mxr;
}

/// <summary>menvcfg fields: only Sstc's enable (STCE) is implemented; the others read zero (WARL).</summary>
internal static class Envcfg
{
    public const ulong Stce = 1UL << 63;
}

public sealed unsafe partial class RiscvCpu
{
    private const ulong Misa = (2UL << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
    private const int PmpEntries = 16;

    private ulong _mstatus = Status.Uxl | Status.Sxl;
    private ulong _medeleg, _mideleg, _mie, _mip, _mtvec, _mscratch, _mepc, _mcause, _mtval, _mcounteren;
    private ulong _stvec, _sscratch, _sepc, _scause, _stval, _satp, _scounteren;
    private readonly ulong[] _pmpaddr = new ulong[PmpEntries];
    private ulong _pmpcfg0, _pmpcfg2;
    private ulong _menvcfg, _stimecmp = ulong.MaxValue;

    /// <summary>CSRRW/S/C and their immediate forms (Zicsr): permission checks, then read and write.</summary>
    private void CsrInstruction(uint inst)
    {
        int rd = (int)(inst >> 7) & 31, rs1 = (int)(inst >> 15) & 31, funct3 = (int)(inst >> 12) & 7;
        int csr = (int)(inst >> 20);
        ulong operand = funct3 >= 5 ? (ulong)rs1 : _x[rs1];
        bool writes = (funct3 & 3) == 1 || rs1 != 0;
        if ((int)_priv < ((csr >> 8) & 3)) throw Illegal();
        if (writes && (csr >> 10) == 3) throw Illegal();
        ulong old = ReadCsr(csr);
        if (writes)
        {
            // A read-modify-write of mip works on its software-writable bits: the external and timer lines the hart
            // sees must not be written back as if software had set them (privileged spec 3.1.9, on SEIP).
            ulong current = csr == 0x344 ? _mip : old;
            ulong value = (funct3 & 3) switch
            {
                1 => operand,
                2 => current | operand,
                _ => current & ~operand,
            };
            WriteCsr(csr, value);
        }
        if (rd != 0) _x[rd] = old;
    }

    private ulong ReadCsr(int csr) => csr switch
    {
        0x001 => FloatCsr(_fflags),
        0x002 => FloatCsr(_frm),
        0x003 => FloatCsr((_frm << 5) | _fflags),
        0xC00 => Counter(0, (ulong)_instret),
        0xC01 => Counter(1, Clint.Time),
        0xC02 => Counter(2, (ulong)_instret),
        0x100 => SstatusView(),
        0x104 => _mie & _mideleg,
        0x105 => _stvec,
        0x106 => _scounteren,
        0x140 => _sscratch,
        0x141 => _sepc,
        0x142 => _scause,
        0x143 => _stval,
        0x144 => Mip & _mideleg,
        0x14D => StimecmpAccess(),
        0x10A => 0, // senvcfg: no fields (no Zicbom, no FIOM)
        0x180 => SatpAccess(),
        0x300 => MstatusView(),
        0x301 => Misa,
        0x302 => _medeleg,
        0x303 => _mideleg,
        0x304 => _mie,
        0x305 => _mtvec,
        0x306 => _mcounteren,
        0x30A => _menvcfg,
        0x320 => 0, // mcountinhibit: the counters always count (WARL zero)
        0x340 => _mscratch,
        0x341 => _mepc,
        0x342 => _mcause,
        0x343 => _mtval,
        0x344 => Mip,
        0x3A0 => _pmpcfg0,
        0x3A2 => _pmpcfg2,
        >= 0x3B0 and < 0x3B0 + PmpEntries => _pmpaddr[csr - 0x3B0],
        0xB00 or 0xB02 => (ulong)_instret,
        0xF11 or 0xF12 or 0xF13 or 0xF14 => 0, // mvendorid, marchid, mimpid, mhartid: hart 0 of no vendor
        _ => throw Illegal(),
    };

    private void WriteCsr(int csr, ulong value)
    {
        switch (csr)
        {
            case 0x001: RequireFloat(); _fflags = value & 0x1F; MarkFloatDirty(); break;
            case 0x002: RequireFloat(); _frm = value & 7; MarkFloatDirty(); break;
            case 0x003: RequireFloat(); _fflags = value & 0x1F; _frm = (value >> 5) & 7; MarkFloatDirty(); break;
            case 0x100: SetMstatus((_mstatus & ~Status.SupervisorWritable) | (value & Status.SupervisorWritable)); break;
            case 0x104: _mie = (_mie & ~_mideleg) | (value & _mideleg); break;
            case 0x105: _stvec = value & ~2UL; break;
            case 0x106: _scounteren = value & 7; break;
            case 0x140: _sscratch = value; break;
            case 0x141: _sepc = value & ~1UL; break;
            case 0x142: _scause = value; break;
            case 0x143: _stval = value; break;
            case 0x14D: StimecmpAccess(); _stimecmp = value; break;
            case 0x10A: break;
            case 0x144: _mip = (_mip & ~(_mideleg & Interrupts.SupervisorSoftware)) | (value & _mideleg & Interrupts.SupervisorSoftware); break;
            case 0x180: SatpAccess(); WriteSatp(value); break;
            case 0x300: SetMstatus((_mstatus & ~Status.MachineWritable) | (value & Status.MachineWritable)); break;
            case 0x301: break; // misa: WARL, fixed
            case 0x302: _medeleg = value & 0xB3FF; break; // not ecall from M (bit 11)
            case 0x303: _mideleg = value & Interrupts.Supervisor; break;
            case 0x304: _mie = value & Interrupts.All; break;
            case 0x305: _mtvec = value & ~2UL; break;
            case 0x306: _mcounteren = value & 7; break;
            case 0x30A: _menvcfg = value & Envcfg.Stce; break;
            case 0x320: break;
            case 0x340: _mscratch = value; break;
            case 0x341: _mepc = value & ~1UL; break;
            case 0x342: _mcause = value; break;
            case 0x343: _mtval = value; break;
            case 0x344: _mip = value & Interrupts.Supervisor; break;
            case 0x3A0: _pmpcfg0 = value; break;
            case 0x3A2: _pmpcfg2 = value; break;
            case >= 0x3B0 and < 0x3B0 + PmpEntries: _pmpaddr[csr - 0x3B0] = value & ((1UL << 54) - 1); break;
            case 0xB00 or 0xB02: _instret = (long)value; break;
            default: throw Illegal();
        }
        _sliceEnd = true;
    }

    /// <summary>A counter from S or U mode needs its bit in mcounteren (and scounteren from U), else illegal (3.1.11).</summary>
    private ulong Counter(int bit, ulong value)
    {
        if (_priv != Privilege.Machine && ((_mcounteren >> bit) & 1) == 0) throw Illegal();
        if (_priv == Privilege.User && ((_scounteren >> bit) & 1) == 0) throw Illegal();
        return value;
    }

    /// <summary>Sstc: S-mode reaches stimecmp only when M-mode enabled it (menvcfg.STCE) and let it see time (mcounteren.TM).</summary>
    private ulong StimecmpAccess()
    {
        if (_priv == Privilege.Supervisor && ((_menvcfg & Envcfg.Stce) == 0 || (_mcounteren & 2) == 0)) throw Illegal();
        return _stimecmp;
    }

    /// <summary>With Sstc enabled, STIP is time ≥ stimecmp and not writable; otherwise it is M-mode's to set (3.1.9).</summary>
    private ulong SupervisorTimerBits => (_menvcfg & Envcfg.Stce) == 0
        ? _mip & Interrupts.SupervisorTimer
        : Clint.Time >= _stimecmp ? Interrupts.SupervisorTimer : 0;

    private ulong SatpAccess()
    {
        if (_priv == Privilege.Supervisor && (_mstatus & Status.Tvm) != 0) throw Illegal();
        return _satp;
    }

    /// <summary>Only Bare and Sv39 are supported; a write of another mode is ignored, as WARL allows (4.1.11).</summary>
    private void WriteSatp(ulong value)
    {
        ulong mode = value >> 60;
        if (mode != 0 && mode != 8) return;
        _satp = value;
        FlushTlb();
    }

    private ulong MstatusView() => (_mstatus & Status.Fs) == Status.Fs ? _mstatus | Status.Sd : _mstatus;
    private ulong SstatusView() => MstatusView() & Status.SupervisorView;

    private void SetMstatus(ulong value)
    {
        // MPP cannot hold the reserved encoding 2.
        if (((value >> 11) & 3) == 2) value &= ~Status.Mpp;
        bool translation = ((value ^ _mstatus) & Status.Translation) != 0;
        _mstatus = value;
        if (translation) FlushTlb();
    }

    private Exception Illegal() => Trap(Exceptions.IllegalInstruction, _inst);
}
