namespace VirtShell.Cpu.RiscV;

/// <summary>Exception causes (mcause with the interrupt bit clear), privileged spec table 3.6.</summary>
internal static class Exceptions
{
    public const ulong InstructionMisaligned = 0, InstructionAccessFault = 1, IllegalInstruction = 2, Breakpoint = 3,
        LoadMisaligned = 4, LoadAccessFault = 5, StoreMisaligned = 6, StoreAccessFault = 7,
        EcallFromU = 8, EcallFromS = 9, EcallFromM = 11,
        InstructionPageFault = 12, LoadPageFault = 13, StorePageFault = 15;
}

/// <summary>The interrupt bits of mip and mie, and their cause numbers.</summary>
internal static class Interrupts
{
    public const ulong SupervisorSoftware = 1 << 1, MachineSoftware = 1 << 3, SupervisorTimer = 1 << 5,
        MachineTimer = 1 << 7, SupervisorExternal = 1 << 9, MachineExternal = 1 << 11;
    public const ulong Supervisor = SupervisorSoftware | SupervisorTimer | SupervisorExternal;
    public const ulong All = Supervisor | MachineSoftware | MachineTimer | MachineExternal;
    public const ulong InterruptBit = 1UL << 63;
    /// <summary>The order in which simultaneous interrupts are taken (3.1.9): MEI, MSI, MTI, SEI, SSI, STI.</summary>
    public static readonly int[] Priority = [11, 3, 7, 9, 1, 5];
}

public sealed partial class RiscvCpu
{
    /// <summary>Takes exception <paramref name="cause"/> at the current instruction and unwinds it.</summary>
    private Exception Trap(ulong cause, ulong tval)
    {
        EnterTrap(cause, tval, _pc);
        return Trapped;
    }

    /// <summary>
    /// Trap entry (3.1.6.1, 4.1.1): to S-mode when the cause is delegated and we are not in M-mode, else to M-mode;
    /// xEPC, xCAUSE, xTVAL, the previous privilege and interrupt enable, and the vector (direct or vectored).
    /// </summary>
    private void EnterTrap(ulong cause, ulong tval, ulong epc)
    {
        bool interrupt = (cause & Interrupts.InterruptBit) != 0;
        ulong bit = 1UL << (int)(cause & 63);
        bool toSupervisor = _priv != Privilege.Machine && ((interrupt ? _mideleg : _medeleg) & bit) != 0;
        _reservationValid = false;
        if (toSupervisor)
        {
            _sepc = epc;
            _scause = cause;
            _stval = tval;
            ulong sie = (_mstatus >> 1) & 1;
            _mstatus = (_mstatus & ~(Status.Spie | Status.Sie | Status.Spp)) | (sie << 5) | ((ulong)_priv << 8);
            _pc = Vector(_stvec, cause, interrupt);
            SetPrivilege(Privilege.Supervisor);
        }
        else
        {
            _mepc = epc;
            _mcause = cause;
            _mtval = tval;
            ulong mie = (_mstatus >> 3) & 1;
            _mstatus = (_mstatus & ~(Status.Mpie | Status.Mie | Status.Mpp)) | (mie << 7) | ((ulong)_priv << 11);
            _pc = Vector(_mtvec, cause, interrupt);
            SetPrivilege(Privilege.Machine);
        }
        _sliceEnd = true;
    }

    private static ulong Vector(ulong tvec, ulong cause, bool interrupt) =>
        (tvec & ~3UL) + ((tvec & 1) != 0 && interrupt ? 4 * (cause & 63) : 0);

    /// <summary>mip as the hart sees it: software-written bits, the CLINT's, and the external lines.</summary>
    private ulong Mip => (_mip & ~Interrupts.SupervisorTimer) | SupervisorTimerBits | Clint.PendingBits | _externalPending;

    /// <summary>Enabled, pending interrupts, whatever the global enables say (what WFI waits for).</summary>
    private ulong PendingInterrupts() => Mip & _mie;

    /// <summary>
    /// Takes the highest-priority interrupt that the current privilege and the global enables allow (3.1.9):
    /// M-level ones when below M or with mstatus.MIE; delegated ones when below S, or in S with sstatus.SIE.
    /// </summary>
    private void TakeInterruptIfEnabled(ulong pending)
    {
        bool mEnabled = _priv != Privilege.Machine || (_mstatus & Status.Mie) != 0;
        bool sEnabled = _priv == Privilege.User || (_priv == Privilege.Supervisor && (_mstatus & Status.Sie) != 0);
        ulong machine = mEnabled ? pending & ~_mideleg : 0;
        ulong supervisor = sEnabled ? pending & _mideleg : 0;
        ulong take = machine != 0 ? machine : supervisor;
        if (take == 0) return;
        foreach (int cause in Interrupts.Priority)
            if ((take & (1UL << cause)) != 0)
            {
                EnterTrap(Interrupts.InterruptBit | (uint)cause, 0, _pc);
                return;
            }
    }

    private void MachineReturn()
    {
        if (_priv != Privilege.Machine) throw Illegal();
        var previous = (Privilege)((_mstatus >> 11) & 3);
        ulong mpie = (_mstatus >> 7) & 1;
        _mstatus = (_mstatus & ~(Status.Mie | Status.Mpp)) | (mpie << 3) | Status.Mpie;
        if (previous != Privilege.Machine) _mstatus &= ~Status.Mprv;
        _pc = _mepc;
        SetPrivilege(previous);
        _sliceEnd = true;
    }

    private void SupervisorReturn()
    {
        if (_priv == Privilege.User || (_priv == Privilege.Supervisor && (_mstatus & Status.Tsr) != 0)) throw Illegal();
        var previous = (Privilege)((_mstatus >> 8) & 1);
        ulong spie = (_mstatus >> 5) & 1;
        _mstatus = (_mstatus & ~(Status.Sie | Status.Spp | Status.Mprv)) | (spie << 1) | Status.Spie;
        _pc = _sepc;
        SetPrivilege(previous);
        _sliceEnd = true;
    }

    private void WaitForInterrupt()
    {
        if (_priv == Privilege.User || (_priv == Privilege.Supervisor && (_mstatus & Status.Tw) != 0)) throw Illegal();
        _pc += 4;
        _wfi = true;
        _sliceEnd = true;
    }

    private void SetPrivilege(Privilege privilege)
    {
        _priv = privilege;
        FlushTlb();
    }

    /// <summary>The external interrupt inputs: the PLIC's context for this hart's M-mode (MEIP) or S-mode (SEIP).</summary>
    public void SetExternalInterrupt(bool supervisor, bool asserted)
    {
        ulong bit = supervisor ? Interrupts.SupervisorExternal : Interrupts.MachineExternal;
        ulong old, updated;
        do
        {
            old = _externalPending;
            updated = asserted ? old | bit : old & ~bit;
        }
        while (Interlocked.CompareExchange(ref _externalPending, updated, old) != old);
        if (asserted) _wake.Set();
    }

    private ulong _externalPending;

    /// <summary>Called by the CLINT when msip or mtimecmp change, so a waiting hart looks again.</summary>
    internal void InterruptsChanged()
    {
        _sliceEnd = true;
        _wake.Set();
    }
}
