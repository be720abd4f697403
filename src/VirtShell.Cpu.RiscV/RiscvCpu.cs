using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Memory;

namespace VirtShell.Cpu.RiscV;

/// <summary>
/// One RV64IMAFDC hart with Zicsr and Zifencei, M/S/U privilege and Sv39 paging, interpreted instruction by
/// instruction. Physical memory is the machine's RAM (host pointers, as the x86 interpreter uses them) and the MMIO
/// bus for everything else. The CLINT (<see cref="Clint"/>) keeps its timer; the platform's interrupt controller
/// drives the external-interrupt inputs through <see cref="SetExternalInterrupt"/>.
/// </summary>
public sealed unsafe partial class RiscvCpu : IVirtualCpu
{
    /// <summary>The reset vector of QEMU's virt board, where OpenSBI is linked.</summary>
    public const ulong ResetVector = 0x8000_0000;

    private readonly GuestMemory _memory;
    private readonly MmioBus _mmio;
    private readonly WakeSignal _wake;
    private readonly ulong* _x;
    private readonly ulong* _f;
    private ulong _pc;
    private Privilege _priv = Privilege.Machine;
    private long _instret;
    private volatile bool _exitRequested;
    private bool _wfi;
    private readonly Timer _wakeTimer;

    /// <summary>Thrown (one instance) to unwind from the instruction that trapped; the trap is already taken.</summary>
    private sealed class TrapTaken : Exception;
    private static readonly TrapTaken Trapped = new();

    /// <param name="memory">RAM; anything else goes to <paramref name="mmio"/>.</param>
    /// <param name="wake">Set when an interrupt arrives for a hart waiting in WFI.</param>
    public RiscvCpu(GuestMemory memory, MmioBus mmio, WakeSignal wake)
    {
        _memory = memory;
        _mmio = mmio;
        _wake = wake;
        _x = (ulong*)NativeMemory.AllocZeroed(32 * sizeof(ulong));
        _f = (ulong*)NativeMemory.AllocZeroed(32 * sizeof(ulong));
        _wakeTimer = new Timer(_ => _wake.Set());
        Clint = new Clint(this);
        _pc = ResetVector;
        FlushTlb();
    }

    /// <summary>The hart's CLINT (msip, mtimecmp, mtime); the platform maps it at its base address.</summary>
    public Clint Clint { get; }

    /// <summary>The program counter.</summary>
    public ulong Pc { get => _pc; set => _pc = value; }

    /// <summary>The current privilege level.</summary>
    public Privilege Privilege => _priv;

    /// <summary>Integer register <paramref name="index"/> (x0 reads zero and ignores writes).</summary>
    public ulong this[int index]
    {
        get => _x[index & 31];
        set { if ((index & 31) != 0) _x[index & 31] = value; }
    }

    /// <summary>Floating-point register <paramref name="index"/> as raw bits (singles NaN-boxed).</summary>
    public ulong FloatRegister(int index) => _f[index & 31];

    public long InstructionsRetired => Interlocked.Read(ref _instret);

    public void RequestExit()
    {
        _exitRequested = true;
        _wake.Set();
    }

    public CpuExit Run()
    {
        try
        {
            while (true)
            {
                if (_exitRequested)
                {
                    _exitRequested = false;
                    return new CpuExit(CpuExitReason.ExitRequested);
                }
                if (_powerOff is { } end)
                {
                    _powerOff = null;
                    return end;
                }
                ulong pending = PendingInterrupts();
                if (_wfi)
                {
                    if (pending == 0)
                    {
                        ArmWakeTimer();
                        return new CpuExit(CpuExitReason.Halted);
                    }
                    _wfi = false;
                }
                try
                {
                    if (pending != 0) TakeInterruptIfEnabled(pending);
                    ExecuteSlice(4096);
                }
                catch (TrapTaken)
                {
                }
            }
        }
        catch (Exception e)
        {
            return new CpuExit(CpuExitReason.InternalError, $"RISC-V interpreter error at pc={_pc:x16}: {e.Message}");
        }
    }

    /// <summary>Runs up to <paramref name="budget"/> instructions, fewer when one changes what may interrupt.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ExecuteSlice(int budget)
    {
        _sliceEnd = false;
        int done = 0;
        try
        {
            while (done < budget && !_sliceEnd)
            {
                Step();
                done++;
            }
        }
        finally
        {
            _instret += done;
        }
    }

    /// <summary>Set by instructions after which interrupts must be looked at again (CSR writes, xRET, WFI).</summary>
    private bool _sliceEnd;
    private CpuExit? _powerOff;

    /// <summary>Ends the run with <paramref name="exit"/> after the current instruction (the platform's test finisher).</summary>
    public void EndRun(CpuExit exit)
    {
        _powerOff = exit;
        _sliceEnd = true;
    }

    /// <summary>While the hart waits, a host timer wakes it when mtimecmp (or, with Sstc, stimecmp) comes due.</summary>
    private void ArmWakeTimer()
    {
        ulong now = Clint.Time;
        ulong due = (_mie & Interrupts.MachineTimer) != 0 ? Clint.TimeCompare : ulong.MaxValue;
        if ((_mie & Interrupts.SupervisorTimer) != 0 && (_menvcfg & Envcfg.Stce) != 0) due = Math.Min(due, _stimecmp);
        if (due == ulong.MaxValue) return;
        long ms = due <= now ? 0 : (long)Math.Min((due - now) / (Clint.Frequency / 1000) + 1, 100);
        _wakeTimer.Change(ms, Timeout.Infinite);
    }

    public string DumpState()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"pc={_pc:x16} priv={_priv} mstatus={_mstatus:x16} satp={_satp:x16}");
        sb.AppendLine($"mcause={_mcause:x} mepc={_mepc:x16} mtval={_mtval:x16} scause={_scause:x} sepc={_sepc:x16} stval={_stval:x16}");
        for (int i = 0; i < 32; i += 4)
            sb.AppendLine($"x{i,-2}={_x[i]:x16} x{i + 1,-2}={_x[i + 1]:x16} x{i + 2,-2}={_x[i + 2]:x16} x{i + 3,-2}={_x[i + 3]:x16}");
        return sb.ToString().TrimEnd();
    }

    public void Dispose()
    {
        _wakeTimer.Dispose();
        NativeMemory.Free(_x);
        NativeMemory.Free(_f);
    }
}

/// <summary>The privilege levels, with their encodings in mstatus.MPP.</summary>
public enum Privilege
{
    User = 0,
    Supervisor = 1,
    Machine = 3,
}
