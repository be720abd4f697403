using Iced.Intel;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Memory;

namespace VirtShell.Cpu.Interpreter;

/// <summary>
/// The emulated model's x86 CPU: an interpreter over Iced-decoded instruction blocks cached by physical address.
/// The class is split by instruction group (Arithmetic.cs, Shift.cs, String.cs, ...) like Bochs' cpu/ folder.
/// </summary>
public sealed unsafe partial class InterpreterCpu : IX86Cpu
{
    private readonly GuestMemory _memory;
    private readonly IoPortBus _ports;
    private readonly MmioBus _mmio;
    private readonly IInterruptSource? _interrupts;
    /// <summary>The same object as <see cref="_interrupts"/> when it is a local APIC: then the CPU has one (MSR 1Bh, CPUID).</summary>
    private readonly ILocalApic? _apic;

    private volatile bool _exitRequested;
    private bool _halted;
    /// <summary>Set after STI, MOV SS and POP SS: no interrupt is taken before the next instruction completes.</summary>
    private bool _interruptShadow;
    /// <summary>Set by MOV SS and POP SS: Intel parts also take no instruction breakpoint on the next instruction.</summary>
    private bool _ssShadow;
    /// <summary>Set while an NMI handler runs: no further NMI is taken until the next IRET (SDM 6.7.1).</summary>
    private bool _nmiBlocked;
    /// <summary>Set when the running block must stop after the current instruction (its code was overwritten, the mode changed).</summary>
    private bool _breakBlock;
    private long _retired;
    /// <summary>
    /// What the running loop has retired but not yet added to <see cref="_retired"/>, as of the start of the current
    /// block: stored once per block so RDTSC inside a run sees time move (to within one block).
    /// </summary>
    private long _retiredInRun;

    /// <summary>The offset of the instruction being executed, where a fault restarts it.</summary>
    private ulong _instrStart;

    /// <param name="interrupts">Where external interrupts come from: a local APIC (<see cref="ILocalApic"/>, which also
    /// gives the CPU its APIC base MSR and CPUID bit), an 8259 pair wired straight to INTR, or nothing.</param>
    public InterpreterCpu(GuestMemory memory, IoPortBus ports, MmioBus mmio, IInterruptSource? interrupts)
    {
        _memory = memory ?? throw new ArgumentNullException(nameof(memory));
        _ports = ports ?? throw new ArgumentNullException(nameof(ports));
        _mmio = mmio ?? throw new ArgumentNullException(nameof(mmio));
        _interrupts = interrupts;
        _apic = interrupts as ILocalApic;
        _reader = new FetchReader(this);
        _gpr = (ulong*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _gprStore[0]);
        _memory.ExternalWrite += OnExternalWrite;
        AllocateCodeLines();
        RefreshRam();
        SetState(CpuState.RealMode(0xF000, 0xFFF0));
    }

    public long InstructionsRetired => Interlocked.Read(ref _retired);

    /// <summary>The vector of the last exception the CPU raised itself (#DE, #UD, #GP...), or -1; the conformance runner reads it.</summary>
    internal int LastException { get; set; } = -1;

    /// <summary>CS base and EIP of the next instruction, for the conformance runners' execution traces.</summary>
    internal (ulong CsBase, ulong Eip) NextInstruction => (_segs[SegCs].Base, _eip);

    public void RequestExit() => _exitRequested = true;

    public CpuExit Run()
    {
        try
        {
            return RunLoop();
        }
        catch (Exception e)
        {
            return ExitFor(e);
        }
    }

    /// <summary>
    /// Executes exactly one instruction (a REP string instruction to completion), delivering any exception it
    /// raises; null when the CPU can go on. The conformance runner single-steps with it. On the translating tier the
    /// instruction runs compiled, as a block of its own (<see cref="StepCompiled"/>).
    /// </summary>
    internal CpuExit? StepInstruction()
    {
        try
        {
            if (_pendingExternal) DrainExternalWrites();
            if (_halted) return new CpuExit(CpuExitReason.Halted);
            _instrStart = _eip;
            try
            {
                var block = GetBlock();
                if (!_translate || !StepCompiled(block))
                {
                    ref var d = ref block.Ops[0];
                    do
                    {
                        _eip = d.NextIp;
                        d.Handler(this, ref d);
                    } while (RepeatsAgain(ref d));
                }
            }
            catch (CpuFault f)
            {
                RaiseFault(f);
            }
            Interlocked.Increment(ref _retired);
            return _halted ? new CpuExit(CpuExitReason.Halted) : null;
        }
        catch (Exception e)
        {
            return ExitFor(e);
        }
    }

    /// <summary>Whether a REP string instruction that just ran a stretch of its iterations has more to go.</summary>
    private bool RepeatsAgain(ref DecodedOp d) =>
        _eip == _instrStart && d.I.IsStringInstruction && (d.I.HasRepPrefix || d.I.HasRepnePrefix);

    private CpuExit ExitFor(Exception e)
    {
        switch (e)
        {
            case TripleFault:
                _halted = true;
                return new CpuExit(CpuExitReason.TripleFault, e.Message);
            case UnimplementedInstruction:
                return new CpuExit(CpuExitReason.InternalError, e.Message);
            default:
                // A bug in the interpreter or a device handler (an OutOfMemoryException too: the guest's own memory is
                // allocated up front, so it is one): report it with the instruction, never crash the host.
                return new CpuExit(CpuExitReason.InternalError,
                    $"interpreter error in {InstructionAtStart()} at {_segs[SegCs].Selector:x4}:{_instrStart:x8}: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>The instruction at CS:EIP of the one that ran last, as text and bytes, for error reports.</summary>
    private string InstructionAtStart()
    {
        var bytes = new byte[15];
        int n = 0;
        uint ipMask = _codeMode == Code16 ? 0xFFFF : 0xFFFF_FFFFu;
        try
        {
            for (; n < bytes.Length; n++) bytes[n] = FetchByte(_segs[SegCs].Base + ((_instrStart + (uint)n) & ipMask), out _);
        }
        catch (CpuFault) { /* the instruction ends before the page that cannot be fetched */ }
        var instruction = Decoder.Create(_codeMode switch { Code16 => 16, Code32 => 32, _ => 64 }, new ByteArrayCodeReader(bytes, 0, n), _instrStart)
            .Decode();
        return instruction.IsInvalid ? $"(bytes {Convert.ToHexString(bytes, 0, n)})"
            : $"{instruction} (bytes {Convert.ToHexString(bytes, 0, instruction.Length)})";
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private CpuExit RunLoop()
    {
        if (_exitRequested)
        {
            _exitRequested = false;
            return new CpuExit(CpuExitReason.ExitRequested);
        }
        if (_halted)
        {
            if (!TryDeliverNmi() && !TryDeliverExternalInterrupt()) return new CpuExit(CpuExitReason.Halted);
            _halted = false;
        }
        long retired = 0;
        Block? previous = null;
        try
        {
            while (true)
            {
                if (_exitRequested)
                {
                    _exitRequested = false;
                    return new CpuExit(CpuExitReason.ExitRequested);
                }
                if (_pendingExternal) DrainExternalWrites();
                // The instruction in an STI or MOV SS shadow runs alone, so an interrupt waiting behind it is taken
                // right after it, not at the end of its block (eventinj's "sti; nop; cli").
                bool shadowed = _interruptShadow;
                if (shadowed) _interruptShadow = false;
                else
                {
                    _ssShadow = false;
                    if (!TryDeliverNmi() && (_flagBits & FlagIf) != 0) TryDeliverExternalInterrupt();
                }

                _breakBlock = false;
                _instrStart = _eip;
                _retiredInRun = retired;
                bool compiled = false;
                try
                {
                    var block = NextBlock(previous);
                    previous = block;
                    var ops = block.Ops;
                    if (_codeBreakpoints != 0) retired += RunWatched(ops);
                    // A block in an STI/MOV SS shadow runs its first instruction alone, which only the loop below does.
                    else if (_translate && !shadowed && (block.Compiled != null || (++block.Runs == TranslateAfter && CompileOrQueue(block))))
                    {
                        compiled = true;
                        _compiledRetired = 0;
                        _runningBlock = block;
                        retired += block.Compiled!(this, block, 0);
                        previous = _runningBlock; // the chain's last block: NextBlock looks at its successors
                    }
                    else for (int i = 0; i < ops.Length; i++)
                    {
                        ref var d = ref ops[i];
                        _instrStart = _eip;
                        _eip = d.NextIp;
                        d.Handler(this, ref d);
                        retired++;
                        if (_breakBlock | shadowed) break;
                    }
                }
                catch (CpuFault f)
                {
                    if (compiled) retired += RetiredBefore(_runningBlock!);
                    retired++;
                    previous = null;
                    RaiseFault(f);
                }
                if (_halted)
                {
                    // An interrupt already waiting ends the halt at once; only a real wait goes back to the runtime.
                    if (!TryDeliverNmi() && ((_flagBits & FlagIf) == 0 || !TryDeliverExternalInterrupt())) return new CpuExit(CpuExitReason.Halted);
                    _halted = false;
                    previous = null;
                }
                if (retired >= 1 << 20)
                {
                    Interlocked.Add(ref _retired, retired);
                    retired = 0;
                }
            }
        }
        finally
        {
            Interlocked.Add(ref _retired, retired);
            _retiredInRun = 0;
        }
    }

    /// <summary>Runs a block checking each instruction against the armed instruction breakpoints first; returns how many it retired.</summary>
    private int RunWatched(DecodedOp[] ops)
    {
        int i = 0;
        while (i < ops.Length)
        {
            ref var d = ref ops[i];
            _instrStart = _eip;
            if (_ssShadow) _ssShadow = false;
            else CheckCodeBreakpoints();
            _eip = d.NextIp;
            d.Handler(this, ref d);
            i++;
            if (_breakBlock) break;
        }
        return i;
    }

    /// <summary>Delivers a pending external interrupt if IF allows; true when one was delivered.</summary>
    private bool TryDeliverExternalInterrupt()
    {
        if ((_flagBits & FlagIf) == 0 || _interrupts == null || !_interrupts.HasPendingInterrupt) return false;
        int vector = _interrupts.AcknowledgeInterrupt();
        if (vector < 0) return false;
        _instrStart = _eip;
        try
        {
            DeliverInterrupt(vector & 0xFF, _eip, InterruptKind.External, null);
        }
        catch (CpuFault f)
        {
            RaiseFault(f);
        }
        return true;
    }

    /// <summary>Delivers a waiting NMI through vector 2 unless an earlier one's handler has not returned yet; true when one was delivered.</summary>
    private bool TryDeliverNmi()
    {
        if (_nmiBlocked || _interrupts == null || !_interrupts.HasPendingNmi || !_interrupts.AcknowledgeNmi()) return false;
        _instrStart = _eip;
        _nmiBlocked = true;
        try
        {
            DeliverInterrupt(Vector.Nmi, _eip, InterruptKind.External, null);
        }
        catch (CpuFault f)
        {
            RaiseFault(f);
        }
        return true;
    }

    public void Dispose()
    {
        _memory.ExternalWrite -= OnExternalWrite;
        _compileQueue.CompleteAdding();
        _compiler?.Join(TimeSpan.FromSeconds(10));
        _translationDump?.Dispose();
    }
}
