using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// SYSCALL and SYSRET in 64-bit mode (Intel's rules: SYSCALL is #UD outside 64-bit mode, so CSTAR is kept but never
// used). The CPU loads fixed flat descriptors for CS and SS from the selectors in STAR; it does not read the GDT.
public sealed unsafe partial class InterpreterCpu
{
    private const int RegR11 = 11;

    private ulong _star, _lstar, _cstar, _sfmask;

    private static OpcodeRow[] SyscallOps() =>
    [
        Op(Mnemonic.Syscall, &Syscall, CpuModes.Long64), Op(Mnemonic.Sysret, &Sysret, CpuModes.Long64),
        Op(Mnemonic.Sysretq, &Sysret, CpuModes.Long64),
    ];

    /// <summary>
    /// SYSCALL: RCX = the next RIP, R11 = RFLAGS; to ring 0 at LSTAR with CS = STAR[47:32] and SS = that + 8,
    /// RFLAGS &amp;= ~SFMASK (RF too).
    /// </summary>
    private static void Syscall(InterpreterCpu c, ref DecodedOp d)
    {
        if ((c._efer & EferSce) == 0) throw new CpuFault(Vector.InvalidOpcode);
        ulong target = CheckRip(c._lstar);
        uint flags = c.Eflags;
        c._gpr[RegEcx] = c._eip;
        c._gpr[RegR11] = flags & ~FlagRf;
        c.Eflags = (flags & ~(uint)c._sfmask & ~FlagRf) | 2;
        ushort cs = (ushort)((c._star >> 32) & 0xFFFC);
        c._segs[SegCs] = new Segment { Selector = cs, Limit = 0xFFFF_FFFF, Attributes = 0xA09B };       // 64-bit, DPL 0
        c._segs[SegSs] = new Segment { Selector = (ushort)(cs + 8), Limit = 0xFFFF_FFFF, Attributes = 0xC093 };
        c._eip = target;
        c.ModeChanged();
    }

    /// <summary>
    /// SYSRET (CPL 0): to ring 3 with RFLAGS from R11; REX.W returns to 64-bit code at RCX with CS = STAR[63:48] + 16,
    /// without it to compatibility mode at ECX with CS = STAR[63:48]; SS = STAR[63:48] + 8 either way.
    /// </summary>
    private static void Sysret(InterpreterCpu c, ref DecodedOp d)
    {
        if ((c._efer & EferSce) == 0) throw new CpuFault(Vector.InvalidOpcode);
        if (c.Cpl != 0) throw new CpuFault(Vector.GeneralProtection, 0);
        bool to64 = d.I.Code == Code.Sysretq;
        ulong rip = to64 ? c._gpr[RegEcx] : (uint)c._gpr[RegEcx];
        ulong target = CheckRip(rip); // a non-canonical RCX is #GP(0) in ring 0, before anything changes
        ushort baseSelector = (ushort)(c._star >> 48);
        ushort cs = (ushort)((to64 ? baseSelector + 16 : baseSelector) | 3);
        c._segs[SegCs] = new Segment
        {
            Selector = cs, Limit = 0xFFFF_FFFF, Attributes = (ushort)(to64 ? 0xA0FB : 0xC0FB), // 64-bit or 32-bit code, DPL 3
        };
        c._segs[SegSs] = new Segment { Selector = (ushort)((baseSelector + 8) | 3), Limit = 0xFFFF_FFFF, Attributes = 0xC0F3 };
        c.Eflags = ((uint)c._gpr[RegR11] & 0x3C_7FD7) | 2;
        c._eip = target;
        c.ModeChanged();
    }

    private static bool IsSyscallMsr(uint index) => index is MsrStar or MsrLstar or MsrCstar or MsrSfmask;

    private ulong ReadSyscallMsr(uint index) => index switch
    {
        MsrStar => _star,
        MsrLstar => _lstar,
        MsrCstar => _cstar,
        _ => _sfmask,
    };

    private void WriteSyscallMsr(uint index, ulong value)
    {
        switch (index)
        {
            case MsrStar: _star = value; break;
            case MsrSfmask: _sfmask = value & 0xFFFF_FFFF; break; // the upper half is reserved and reads as 0
            default:
                if (!Canonical(value)) throw new CpuFault(Vector.GeneralProtection, 0);
                if (index == MsrLstar) _lstar = value; else _cstar = value;
                break;
        }
    }
}
