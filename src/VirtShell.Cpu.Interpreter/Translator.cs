using System.Diagnostics;
using System.Reflection;
using System.Reflection.Emit;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace VirtShell.Cpu.Interpreter;

/// <summary>Which tier runs guest code.</summary>
public enum CpuTier
{
    /// <summary>The translator: cold code stays interpreted, hot blocks are compiled (docs/cpu.md has the figures behind it).</summary>
    Auto,
    /// <summary>Every block is interpreted.</summary>
    Interpreter,
    /// <summary>Blocks that run often are compiled to .NET IL; the rest are interpreted.</summary>
    Translator,
}

/// <summary>What the translating tier has done: blocks compiled, the guest instructions in them, the time and IL spent.</summary>
public readonly record struct TranslationStatistics(long Blocks, long Instructions, long InlinedInstructions, TimeSpan CompileTime, long IlBytes);

/// <summary>
/// A compiled block: runs the block's instructions from the first (and the compiled blocks it chains to) and returns
/// <paramref name="retired"/> plus the instructions retired.
/// </summary>
internal delegate int CompiledBlock(InterpreterCpu cpu, Block block, int retired);

// The translating tier. A block that has run TranslateAfter times is compiled to one DynamicMethod, which the JIT
// turns into straight-line host code:
// - Guest registers the block names live in IL locals: loaded at entry, written back at the exit and around every
//   call of an interpreter handler (which reads and writes the register file), and reloaded after it.
// - The lazy flags (the interpreter's _lazyOp/_lazyRes/_lazyA/_lazyB/_lazySize and _flagBits) live in locals the same
//   way. Where the block itself shows which operation left them pending, INC/DEC's CF and a closing Jcc are computed
//   from that operation's operands directly; otherwise from the locals through the interpreter's own formulas.
// - MOV, ADD, SUB, CMP, AND, OR, XOR, TEST (register, immediate and memory operands), INC/DEC of a register, LEA,
//   SHL/SHR/SAR/ROL/ROR of a register by a constant and a closing Jcc or JMP rel are inline IL, at 16 and 32 bits. Memory goes through ReadData/WriteData, whose TLB hit
//   and RAM pointer the JIT inlines; the rest of the path (page walks, MMIO, stores to code) is the interpreter's.
// - Everything else is a direct call of the interpreter's handler; an instruction that sets _breakBlock (and a store
//   that overwrote code) ends the compiled block after it, exactly where the interpreter's loop stops.
// - A block whose closing branch goes back to its own start loops inside the method, checking at each pass what
//   RunLoop checks between blocks (exit requests, external writes, NMI and interrupts, the code still mapped).
// - Chaining: at its exit a block looks for its successor among the two its Block recorded (Next0/Next1, which
//   RunLoop's NextBlock fills) and, when that one is compiled, still valid and mapped at CS:EIP, and the same checks
//   pass, tail-calls it, so a chain of compiled blocks runs without RunLoop. A chain returns to RunLoop after
//   LoopBudget instructions at most; _runningBlock names the block running, for a fault's count and NextBlock.
// Faults: before anything that may fault (a memory access, a handler, a branch's limit check) the locals changed
// since the last write-back go to the file and _instrStart names the instruction; no inline instruction changes a
// local before its last chance to fault, so a fault leaves exactly the state before the faulting instruction. The
// loop stores its passes in _compiledRetired for RunLoop's count. (No try/fault region: locals live into a handler
// would live on the stack, which cost a third of the speed.) A compiled block lives on its Block and is dropped with it.
public sealed unsafe partial class InterpreterCpu
{
    private CpuTier _tier = CpuTier.Interpreter;
    private bool _translate;
    /// <summary>
    /// Runs of a block before the translator compiles it (the definition's <c>cpu.compileThreshold</c>; tests compile
    /// at once with 1).
    /// </summary>
    public int TranslateAfter { get; set; } = DefaultCompileThreshold;
    /// <summary>The compile threshold when the definition sets none (docs/cpu.md has the boot times behind it).</summary>
    public const int DefaultCompileThreshold = 64;
    private long _translatedBlocks, _translatedInstructions, _inlinedInstructions, _translationTicks, _translatedIlBytes;
    /// <summary>Where each compiled block's guest instructions and IL are written, if anywhere.</summary>
    private TextWriter? _translationDump;
    /// <summary>The instructions a compiled block retired in its earlier passes round its own loop (RunLoop clears it before each block).</summary>
    private int _compiledRetired;
    /// <summary>Instructions a self-looping compiled block or a chain of them runs before it returns to RunLoop.</summary>
    private const int LoopBudget = 1 << 16;
    /// <summary>Instructions a compiled block or chain runs between two looks at the interrupt source (a power of 2).</summary>
    private const int InterruptCheck = 1 << 10;
    /// <summary>The compiled block running now: the last of a chain, once it returns.</summary>
    private Block? _runningBlock;

    /// <summary>The tier that runs guest code (the interpreter unless set); Auto, a definition's default, is the translator (docs/cpu.md).</summary>
    public CpuTier Tier
    {
        get => _tier;
        set
        {
            _tier = value;
            _translate = value is CpuTier.Translator or CpuTier.Auto;
        }
    }

    public TranslationStatistics Translation =>
        new(_translatedBlocks, _translatedInstructions, _inlinedInstructions, Stopwatch.GetElapsedTime(0, _translationTicks), _translatedIlBytes);

    /// <summary>Writes every block compiled from now on, guest instructions beside their IL, to the file at <paramref name="path"/> (replaced).</summary>
    public void DumpTranslations(string path)
    {
        _translationDump?.Dispose();
        _translationDump = new StreamWriter(path, append: false);
    }

    /// <summary>The instructions a fault in compiled <paramref name="block"/> retired: earlier passes, then those before <see cref="_instrStart"/>.</summary>
    private int RetiredBefore(Block block)
    {
        ulong ip = block.Eip;
        int passes = _compiledRetired;
        for (int i = 0; i < block.Ops.Length; i++)
        {
            if (ip == _instrStart) return passes + i;
            ip = block.Ops[i].NextIp;
        }
        return passes + block.Ops.Length;
    }

    /// <summary>
    /// Whether a compiled block may start another pass round its own loop, or chain to its successor: what RunLoop
    /// checks between blocks (an exit request, external writes, an interrupt shadow, a deliverable NMI or interrupt)
    /// and that the code at <paramref name="phys"/> is what CS:<paramref name="eip"/> maps to now.
    /// The interrupt source is asked only when <paramref name="retired"/> (the chain's count, <paramref name="ran"/>
    /// more than at the last check) crossed a multiple of <see cref="InterruptCheck"/>: its two interface calls cost
    /// as much as a short loop's pass, and hardware does not promise to take an interrupt at the next instruction
    /// either. A block of inline instructions only (<paramref name="mappingMayChange"/> false) cannot have changed
    /// CS or the paging structures' cached translations, so its own loop skips the mapping check.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private bool MayLoop(uint eip, uint phys, int retired, int ran, bool mappingMayChange)
    {
        if (_exitRequested | _pendingExternal | _breakBlock | _interruptShadow) return false;
        if ((retired & (InterruptCheck - 1)) < ran && _interrupts != null
            && (!_nmiBlocked && _interrupts.HasPendingNmi || (_flagBits & FlagIf) != 0 && _interrupts.HasPendingInterrupt)) return false;
        if (!mappingMayChange) return true;
        uint linear = (uint)(_segs[SegCs].Base + eip);
        return _paging ? TryCachedFetchTranslation(linear, out uint now) && now == phys : (linear & _addrMask) == phys;
    }

    /// <summary>The compiled successor of <paramref name="from"/> at EIP that may run next without RunLoop, or null.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private Block? ChainFrom(Block from, int retired)
    {
        ulong eip = _eip;
        var next = from.Next0;
        if (next == null || next.Eip != eip)
        {
            next = from.Next1;
            if (next == null || next.Eip != eip) return null;
        }
        if (next.Compiled == null || !next.Valid || next.Mode != _codeMode || eip > _segs[SegCs].Limit) return null;
        return MayLoop((uint)eip, next.Phys, retired, from.Ops.Length, mappingMayChange: true) ? next : null;
    }

    private static readonly FieldInfo EipField = Field(nameof(_eip)), InstrStartField = Field(nameof(_instrStart)),
        BreakField = Field(nameof(_breakBlock)), GprField = Field(nameof(_gpr)), LazyOpField = Field(nameof(_lazyOp)),
        LazyResField = Field(nameof(_lazyRes)), LazyAField = Field(nameof(_lazyA)), LazyBField = Field(nameof(_lazyB)),
        LazySizeField = Field(nameof(_lazySize)), FlagBitsField = Field(nameof(_flagBits)),
        CompiledRetiredField = Field(nameof(_compiledRetired)), Stack32Field = Field(nameof(_stack32));
    private static readonly MethodInfo ReadDataMethod = Method(nameof(ReadData)), WriteMemMethod = Method(nameof(WriteMem)),
        DataPointerMethod = Method(nameof(DataPointer)), NoteStoredMethod = Method(nameof(NoteStored)),
        CarryOfMethod = StaticMethod(nameof(CarryOf)), FlagsOfMethod = StaticMethod(nameof(FlagsOf)),
        ShiftMethod = StaticMethod(nameof(Shift)), RotateMethod = StaticMethod(nameof(Rotate)),
        ConditionMethod = Method(nameof(Condition)), NearJumpMethod = Method(nameof(NearJump)), MayLoopMethod = Method(nameof(MayLoop)),
        ChainFromMethod = Method(nameof(ChainFrom)), InvokeMethod = typeof(CompiledBlock).GetMethod(nameof(CompiledBlock.Invoke))!;
    private static readonly FieldInfo RunningBlockField = Field(nameof(_runningBlock)),
        OpsField = typeof(Block).GetField(nameof(Block.Ops))!, CompiledField = typeof(Block).GetField(nameof(Block.Compiled))!;

    private static MethodInfo Method(string name) =>
        typeof(InterpreterCpu).GetMethod(name, BindingFlags.Instance | BindingFlags.NonPublic)!;

    private static MethodInfo StaticMethod(string name) =>
        typeof(InterpreterCpu).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic)!;

    private static FieldInfo Field(string name) =>
        typeof(InterpreterCpu).GetField(name, BindingFlags.Instance | BindingFlags.NonPublic)!;

    /// <summary>Compiles <paramref name="block"/>; false (and the block stays interpreted) for 64-bit code.</summary>
    private bool Translate(Block block)
    {
        if (block.Mode == Code64) return false; // 64-bit operands and addressing are not inlined yet: nothing to gain
        long start = Stopwatch.GetTimestamp();
        // Anonymously hosted with restricted skip visibility: CreateDelegate then JIT-compiles the method at once, so
        // the compile time counted below is the whole cost.
        var method = new DynamicMethod($"block_{block.Phys:x8}_{block.Eip:x}", typeof(int), [typeof(InterpreterCpu), typeof(Block), typeof(int)],
            restrictedSkipVisibility: true);
        var il = new Il(method.GetILGenerator(), _translationDump != null);
        int inlined = new BlockEmitter(il, block).Emit();
        var compiled = (CompiledBlock)method.CreateDelegate(typeof(CompiledBlock));
        // The background compiler and a single step (StepCompiled) may both be here.
        lock (_compileQueue)
        {
            _inlinedInstructions += inlined;
            _translationTicks += Stopwatch.GetTimestamp() - start;
            _translatedBlocks++;
            _translatedInstructions += block.Ops.Length;
            _translatedIlBytes += il.Size;
            if (_translationDump != null)
            {
                _translationDump.WriteLine($"block {block.Eip:x8} (physical {block.Phys:x8}, {block.Ops.Length} instructions, {il.Size} bytes of IL)");
                _translationDump.WriteLine(il.Text);
                _translationDump.Flush();
            }
        }
        block.Compiled = compiled;
        return true;
    }

    /// <summary>Blocks that reached the compile threshold, for the background compiler.</summary>
    private readonly System.Collections.Concurrent.BlockingCollection<Block> _compileQueue = [];
    private Thread? _compiler;
    /// <summary>Blocks queued and not compiled yet.</summary>
    private int _pendingCompiles;
    /// <summary>What stopped the background compiler, thrown on the CPU's thread at the next block that reaches the threshold.</summary>
    private Exception? _compileFailure;

    /// <summary>
    /// A block reached the compile threshold: at threshold 1 (tests, debugging) it is compiled now and runs compiled at
    /// once; above it the background compiler takes it and the block goes on interpreted until its method is there,
    /// so compiling (about a millisecond per guest instruction) no longer holds up the guest (docs/cpu.md).
    /// </summary>
    private bool CompileOrQueue(Block block)
    {
        if (TranslateAfter == 1) return Translate(block);
        if (_compileFailure is { } failure) throw new InvalidOperationException($"the translator failed: {failure.Message}", failure);
        if (block.Mode == Code64) return false;
        Interlocked.Increment(ref _pendingCompiles);
        _compileQueue.Add(block);
        if (_compiler == null)
        {
            _compiler = new Thread(CompileQueued) { IsBackground = true, Name = "translator" };
            _compiler.Start();
        }
        return false;
    }

    private void CompileQueued()
    {
        try
        {
            foreach (var block in _compileQueue.GetConsumingEnumerable())
            {
                if (block.Valid) Translate(block);
                Interlocked.Decrement(ref _pendingCompiles);
            }
        }
        catch (Exception e)
        {
            _compileFailure = e;
        }
    }

    /// <summary>Waits until the background compiler has compiled every block queued so far (tests; false after <paramref name="timeout"/>).</summary>
    internal bool WaitForTranslations(TimeSpan timeout)
    {
        var until = Stopwatch.StartNew();
        while (Volatile.Read(ref _pendingCompiles) > 0 && _compileFailure == null)
        {
            if (until.Elapsed > timeout) return false;
            Thread.Sleep(1);
        }
        return true;
    }

    /// <summary>
    /// StepInstruction on the translating tier: <paramref name="block"/>'s first instruction compiled as a block of its
    /// own and run once, so the single-instruction suites test what the translator emits for each instruction; false
    /// (the caller interprets it) for 64-bit code, which is not compiled, and for an instruction the translator leaves
    /// to its handler, which would run the same handler (compiling each one would double the suites' time).
    /// </summary>
    private bool StepCompiled(Block block)
    {
        if (FormOf(ref block.Ops[0], last: true) == EmitForm.Handler) return false;
        // Not valid: no store drops it and nothing chains to it.
        var alone = new Block(block.Phys, block.Eip, block.Mode, [block.Ops[0]], block.PhysEnd) { Valid = false };
        if (!Translate(alone)) return false;
        do
        {
            // A broken block stops a JMP to itself after one pass instead of looping inside the method.
            _breakBlock = true;
            _compiledRetired = 0;
            _runningBlock = alone;
            alone.Compiled!(this, alone, 0);
        } while (RepeatsAgain(ref alone.Ops[0]));
        return true;
    }

    /// <summary>How the translator emits an instruction.</summary>
    private enum EmitForm { Handler, Register, Memory, Stack, Branch }

    private static readonly Mnemonic[] AluMnemonics =
        [Mnemonic.Add, Mnemonic.Adc, Mnemonic.Sub, Mnemonic.Sbb, Mnemonic.Cmp, Mnemonic.And, Mnemonic.Or, Mnemonic.Xor, Mnemonic.Test];

    private static EmitForm FormOf(ref DecodedOp d, bool last)
    {
        if (last && (d.I.IsJccShortOrNear || d.I.IsJmpShortOrNear || IsNearCallOrReturn(ref d))) return EmitForm.Branch;
        var m = d.I.Mnemonic;
        if (d.OpSize == 1)
        {
            // 8-bit MOV, ALU and INC/DEC: AL-BL and AH-BH (no REX outside 64-bit mode)
            bool alu8 = m == Mnemonic.Mov || Array.IndexOf(AluMnemonics, m) >= 0;
            bool reg0 = d.Loc0 is OperandLoc.Gpr8Lo or OperandLoc.Gpr8Hi, reg1 = d.Loc1 is OperandLoc.Gpr8Lo or OperandLoc.Gpr8Hi;
            if (d.I.OpCount == 1 && m is Mnemonic.Inc or Mnemonic.Dec && reg0) return EmitForm.Register;
            if (d.I.OpCount != 2 || !alu8) return EmitForm.Handler;
            if (reg0 && (reg1 || d.Loc1 == OperandLoc.Immediate)) return EmitForm.Register;
            if (reg0 && d.Loc1 == OperandLoc.Memory || d.Loc0 == OperandLoc.Memory && (reg1 || d.Loc1 == OperandLoc.Immediate))
                return EmitForm.Memory;
            return EmitForm.Handler;
        }
        if (d.OpSize is not (2 or 4)) return EmitForm.Handler;
        var register = GprLoc(d.OpSize);
        if (m is Mnemonic.Movzx or Mnemonic.Movsx && d.I.OpCount == 2 && d.Loc0 == register)
            return d.Loc1 is OperandLoc.Gpr8Lo or OperandLoc.Gpr8Hi or OperandLoc.Gpr16 ? EmitForm.Register
                : d.Loc1 == OperandLoc.Memory && d.MemSize is 1 or 2 ? EmitForm.Memory : EmitForm.Handler;
        if (m == Mnemonic.Push && d.I.OpCount == 1 && (d.Loc0 == register || d.Loc0 == OperandLoc.Immediate)
            || m == Mnemonic.Pop && d.I.OpCount == 1 && d.Loc0 == register)
            return EmitForm.Stack;
        bool alu = m == Mnemonic.Mov || Array.IndexOf(AluMnemonics, m) >= 0;
        if (d.I.OpCount == 1 && m is Mnemonic.Inc or Mnemonic.Dec && d.Loc0 == register) return EmitForm.Register;
        if (d.I.OpCount != 2) return EmitForm.Handler;
        if (m == Mnemonic.Lea && d.Loc0 == register && d.Loc1 == OperandLoc.Memory) return EmitForm.Register;
        // A count of 0 changes nothing, not even the flags: the handler keeps that rare case.
        if (m is Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror)
            return d.Loc0 == register && d.Loc1 == OperandLoc.Immediate && (d.Imm & 0x1F) != 0 ? EmitForm.Register : EmitForm.Handler;
        if (!alu) return EmitForm.Handler;
        if (d.Loc0 == register && (d.Loc1 == register || d.Loc1 == OperandLoc.Immediate)) return EmitForm.Register;
        if (d.MemSize != d.OpSize) return EmitForm.Handler;
        if (d.Loc0 == register && d.Loc1 == OperandLoc.Memory || d.Loc0 == OperandLoc.Memory && (d.Loc1 == register || d.Loc1 == OperandLoc.Immediate))
            return EmitForm.Memory;
        return EmitForm.Handler;
    }

    private static OperandLoc GprLoc(int size) => size == 4 ? OperandLoc.Gpr32 : OperandLoc.Gpr16;

    /// <summary>The emitter's name for a register operand: its number, with <see cref="HighByte"/> for AH-BH.</summary>
    private static int RegisterOf(OperandLoc loc, int reg) => loc == OperandLoc.Gpr8Hi ? reg | HighByte : reg;

    private const int HighByte = 0x10;

    /// <summary>CALL rel16/rel32 or RET [imm16] (near), with a 16 or 32-bit operand.</summary>
    private static bool IsNearCallOrReturn(ref DecodedOp d) =>
        d.OpSize is 2 or 4 && (d.I.Mnemonic == Mnemonic.Call && d.I.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 || d.I.Mnemonic == Mnemonic.Ret);

    private const RflagsBits ArithmeticRflags = RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.CF | RflagsBits.PF;

    /// <summary>
    /// The arithmetic flags something can see after each instruction of a block, from a backward pass: all of them at
    /// the block's end (the next block may read them) and before anything that may fault or calls a handler (the
    /// register file must then be exact); an inline instruction's own reads added, its writes taken away.
    /// </summary>
    private static RflagsBits[] FlagsLiveAfter(DecodedOp[] ops, EmitForm[] forms)
    {
        var live = new RflagsBits[ops.Length];
        var after = ArithmeticRflags;
        for (int k = ops.Length - 1; k >= 0; k--)
        {
            live[k] = after;
            if (forms[k] != EmitForm.Register) after = ArithmeticRflags;
            else
            {
                var (read, written) = OpcodeFlags(ops[k].I.Code);
                after = (after & ~written | read) & ArithmeticRflags;
            }
        }
        return live;
    }

    /// <summary>Emits one block's method body; see the comment at the top of this file.</summary>
    private sealed class BlockEmitter
    {
        private readonly Il _il;
        private readonly Block _block;
        private readonly DecodedOp[] _ops;
        private readonly EmitForm[] _forms;
        /// <summary>The arithmetic flags something can see after each instruction (<see cref="FlagsLiveAfter"/>).</summary>
        private readonly RflagsBits[] _live;
        /// <summary>Whether any instruction calls its handler (which may change CS or the paging structures).</summary>
        private readonly bool _handlers;
        /// <summary>
        /// Whether the block has inline stack instructions, which keep SS.B's stack-pointer mask and the ESP bits a
        /// 16-bit stack keeps in locals.
        /// </summary>
        private readonly bool _stack;
        private readonly LocalBuilder _stackMask = null!, _stackKeep = null!;
        private readonly LocalBuilder?[] _reg = new LocalBuilder?[8];
        /// <summary>Registers written since the register file was last brought up to date.</summary>
        private int _dirty;
        private readonly bool _flags;
        private bool _flagsDirty;
        private readonly LocalBuilder _fOp = null!, _fRes = null!, _fA = null!, _fB = null!, _fSize = null!, _fBits = null!;
        /// <summary>
        /// The operation whose flags the locals hold, where this point of the block shows it (None: the flags are in
        /// the flag bits); null: not known.
        /// </summary>
        private LazyOp? _known;
        private int _knownSize;
        private readonly LocalBuilder _count, _result, _opsLocal, _next, _gprs;
        private readonly Label _exit, _chain, _top, _end;
        /// <summary>The registers the block's inline instructions write.</summary>
        private readonly int _written;

        public BlockEmitter(Il il, Block block)
        {
            _il = il;
            _block = block;
            _ops = block.Ops;
            _forms = new EmitForm[_ops.Length];
            for (int i = 0; i < _ops.Length; i++)
            {
                ref var d = ref _ops[i];
                _forms[i] = FormOf(ref d, i == _ops.Length - 1);
                if (_forms[i] is EmitForm.Handler)
                {
                    _handlers = true;
                    continue;
                }
                var (flagsRead, flagsWritten) = OpcodeFlags(d.I.Code);
                if (_forms[i] == EmitForm.Branch || (flagsRead | flagsWritten) != 0) _flags = true;
                if (_forms[i] == EmitForm.Stack || IsNearCallOrReturn(ref d))
                {
                    _stack = true;
                    Use(RegEsp);
                    _written |= 1 << RegEsp;
                    if (d.Loc0 == GprLoc(d.OpSize))
                    {
                        Use(d.Reg0);
                        if (d.I.Mnemonic == Mnemonic.Pop) _written |= 1 << d.Reg0;
                    }
                    continue;
                }
                if (_forms[i] == EmitForm.Branch) continue;
                if (d.Loc0 is OperandLoc.Gpr8Lo or OperandLoc.Gpr8Hi or OperandLoc.Gpr16 or OperandLoc.Gpr32)
                {
                    Use(d.Reg0);
                    if (d.I.Mnemonic is not (Mnemonic.Cmp or Mnemonic.Test)) _written |= 1 << d.Reg0;
                }
                if (d.Loc1 is OperandLoc.Gpr8Lo or OperandLoc.Gpr8Hi or OperandLoc.Gpr16 or OperandLoc.Gpr32) Use(d.Reg1);
                if (d.Loc0 == OperandLoc.Memory || d.Loc1 == OperandLoc.Memory)
                {
                    Use(d.Base);
                    Use(d.Index);
                }
            }
            if (_flags)
            {
                _fOp = il.DeclareLocal(typeof(int));
                _fRes = il.DeclareLocal(typeof(ulong));
                _fA = il.DeclareLocal(typeof(ulong));
                _fB = il.DeclareLocal(typeof(ulong));
                _fSize = il.DeclareLocal(typeof(int));
                _fBits = il.DeclareLocal(typeof(uint));
            }
            if (_stack)
            {
                _stackMask = il.DeclareLocal(typeof(uint));
                _stackKeep = il.DeclareLocal(typeof(ulong));
            }
            _live = FlagsLiveAfter(_ops, _forms);
            _count = il.DeclareLocal(typeof(int));
            _gprs = il.DeclareLocal(typeof(ulong*));
            _result = il.DeclareLocal(typeof(int));
            _opsLocal = il.DeclareLocal(typeof(DecodedOp[]));
            _next = il.DeclareLocal(typeof(Block));
            _exit = il.DefineLabel();
            _chain = il.DefineLabel();
            _end = il.DefineLabel();
            _top = il.DefineLabel();
        }

        private void Use(int r)
        {
            if (r < 8) _reg[r] ??= _il.DeclareLocal(typeof(ulong));
        }

        /// <summary>Emits the method; returns how many instructions are inline.</summary>
        public int Emit()
        {
            int inlined = 0;
            // count = retired (the chain's so far); ops = block.Ops
            _il.Emit(OpCodes.Ldarg_2);
            _il.Emit(OpCodes.Stloc, _count);
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Ldfld, OpsField);
            _il.Emit(OpCodes.Stloc, _opsLocal);
            _il.LoadField(GprField);
            _il.Emit(OpCodes.Stloc, _gprs);
            LoadState();
            _il.MarkLabel(_top);
            if (LoopsBack)
            {
                // After a pass round the loop the locals are newer than the file: the first write-back takes what it wrote.
                _dirty = _written;
                _flagsDirty = true;
            }
            for (int i = 0; i < _ops.Length; i++)
            {
                ref var d = ref _ops[i];
                _il.Comment($"{d.I.IP:x8} {d.I}");
                switch (_forms[i])
                {
                    case EmitForm.Register: EmitRegister(ref d, i); break;
                    case EmitForm.Memory: EmitMemory(ref d, i); break;
                    case EmitForm.Stack: EmitStack(ref d, i); break;
                    case EmitForm.Branch: EmitBranch(ref d, i); break;
                    default: EmitHandler(i); break;
                }
                if (_forms[i] != EmitForm.Handler) inlined++;
            }
            if (_forms[^1] is EmitForm.Register or EmitForm.Memory or EmitForm.Stack) ExitTo(_ops[^1].NextIp, _ops.Length);
            // Every exit that left locals newer than the file comes here; then, with the file up to date, to the chain.
            _il.MarkLabel(_exit);
            StoreState(all: true);
            // if (result < LoopBudget && (next = c.ChainFrom(block)) != null)
            // { c._compiledRetired = result; c._runningBlock = next; return next.Compiled(c, next, result); }
            _il.MarkLabel(_chain);
            _il.Emit(OpCodes.Ldloc, _result);
            _il.Emit(OpCodes.Ldc_I4, LoopBudget);
            _il.Emit(OpCodes.Bge, _end);
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Ldloc, _result);
            _il.Emit(OpCodes.Call, ChainFromMethod);
            _il.Emit(OpCodes.Stloc, _next);
            _il.Emit(OpCodes.Ldloc, _next);
            _il.Emit(OpCodes.Brfalse, _end);
            _il.StoreField(RunningBlockField, () => _il.Emit(OpCodes.Ldloc, _next));
            _il.Emit(OpCodes.Ldloc, _next);
            _il.Emit(OpCodes.Ldfld, CompiledField);
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldloc, _next);
            _il.Emit(OpCodes.Ldloc, _result);
            _il.TailCall(InvokeMethod);
            _il.Emit(OpCodes.Ret);
            _il.MarkLabel(_end);
            _il.Emit(OpCodes.Ldloc, _result);
            _il.Emit(OpCodes.Ret);
            return inlined;
        }

        private bool LoopsBack => _forms[^1] == EmitForm.Branch && _ops[^1].Imm == _block.Eip;

        private ulong IpOf(int i) => i == 0 ? _block.Eip : _ops[i - 1].NextIp;

        /// <summary>Loads the registers and flags the block keeps in locals from the interpreter's fields.</summary>
        private void LoadState()
        {
            for (int r = 0; r < 8; r++)
                if (_reg[r] is { } local)
                {
                    _il.Emit(OpCodes.Ldloc, _gprs);
                    _il.Emit(OpCodes.Ldc_I4, r * 8);
                    _il.Emit(OpCodes.Add);
                    _il.Emit(OpCodes.Ldind_I8);
                    _il.Emit(OpCodes.Stloc, local);
                }
            if (_flags)
            {
                _il.LoadField(LazyOpField); _il.Emit(OpCodes.Stloc, _fOp);
                _il.LoadField(LazyResField); _il.Emit(OpCodes.Stloc, _fRes);
                _il.LoadField(LazyAField); _il.Emit(OpCodes.Stloc, _fA);
                _il.LoadField(LazyBField); _il.Emit(OpCodes.Stloc, _fB);
                _il.LoadField(LazySizeField); _il.Emit(OpCodes.Stloc, _fSize);
                _il.LoadField(FlagBitsField); _il.Emit(OpCodes.Stloc, _fBits);
            }
            if (_stack)
            {
                // keep = SS.B ? 0 : ~0xFFFF (SetSp's rule: a 32-bit stack pointer write clears bits 32-63); mask = ~(uint)keep
                _il.LoadField(Stack32Field);
                _il.Emit(OpCodes.Ldc_I4_0);
                _il.Emit(OpCodes.Ceq);
                _il.Emit(OpCodes.Conv_U8);
                _il.Emit(OpCodes.Neg);
                _il.Emit(OpCodes.Ldc_I8, ~0xFFFFL);
                _il.Emit(OpCodes.And);
                _il.Emit(OpCodes.Stloc, _stackKeep);
                _il.Emit(OpCodes.Ldloc, _stackKeep);
                _il.Emit(OpCodes.Conv_U4);
                _il.Emit(OpCodes.Not);
                _il.Emit(OpCodes.Stloc, _stackMask);
            }
            _known = null;
            _dirty = 0;
            _flagsDirty = false;
        }

        /// <summary>
        /// Writes the locals back: those changed since the last write, or (<paramref name="all"/>, where paths with
        /// different writes meet) every one the block writes.
        /// </summary>
        private void StoreState(bool all)
        {
            for (int r = 0; r < 8; r++)
                if (_reg[r] is { } local && ((all ? _written : _dirty) & (1 << r)) != 0)
                {
                    _il.Emit(OpCodes.Ldloc, _gprs);
                    _il.Emit(OpCodes.Ldc_I4, r * 8);
                    _il.Emit(OpCodes.Add);
                    _il.Emit(OpCodes.Ldloc, local);
                    _il.Emit(OpCodes.Stind_I8);
                }
            if (_flags && (all || _flagsDirty))
            {
                _il.StoreField(LazyOpField, () => { _il.Emit(OpCodes.Ldloc, _fOp); _il.Emit(OpCodes.Conv_U1); });
                _il.StoreField(LazyResField, () => _il.Emit(OpCodes.Ldloc, _fRes));
                _il.StoreField(LazyAField, () => _il.Emit(OpCodes.Ldloc, _fA));
                _il.StoreField(LazyBField, () => _il.Emit(OpCodes.Ldloc, _fB));
                _il.StoreField(LazySizeField, () => { _il.Emit(OpCodes.Ldloc, _fSize); _il.Emit(OpCodes.Conv_U1); });
                _il.StoreField(FlagBitsField, () => _il.Emit(OpCodes.Ldloc, _fBits));
            }
            _dirty = 0;
            _flagsDirty = false;
        }

        /// <summary>result = passes so far + <paramref name="retired"/>, on the stack for Stloc.</summary>
        private void SetResult(int retired)
        {
            _il.Emit(OpCodes.Ldloc, _count);
            _il.Emit(OpCodes.Ldc_I4, retired);
            _il.Emit(OpCodes.Add);
            _il.Emit(OpCodes.Stloc, _result);
        }

        /// <summary>Sets EIP and leaves through the exit that writes the locals back.</summary>
        private void ExitTo(ulong eip, int retired)
        {
            _il.StoreField(EipField, () => _il.Emit(OpCodes.Ldc_I8, (long)eip));
            SetResult(retired);
            _il.Emit(OpCodes.Br, _exit);
        }

        /// <summary>
        /// Before an instruction that may fault: the file gets what the locals changed, and _instrStart the
        /// instruction, so a fault leaves exactly the state before it.
        /// </summary>
        private void MayFault(int i)
        {
            StoreState(all: false);
            _il.StoreField(InstrStartField, () => _il.Emit(OpCodes.Ldc_I8, (long)IpOf(i)));
            _il.StoreField(CompiledRetiredField, () => _il.Emit(OpCodes.Ldloc, _count));
        }

        /// <summary>
        /// MayFault on a path the fast path skips (a memory access DataPointer could not do inline): what it writes
        /// stays counted as not written, since the path that joins it again did not write it.
        /// </summary>
        private void MayFaultOnSlowPath(int i)
        {
            int dirty = _dirty;
            bool flagsDirty = _flagsDirty;
            MayFault(i);
            _dirty = dirty;
            _flagsDirty = flagsDirty;
        }

        /// <summary>c._instrStart = IP; c._eip = NextIp; locals to the file; handler(c, ref ops[i]); stop if it broke the block; reload.</summary>
        private void EmitHandler(int i)
        {
            ref var d = ref _ops[i];
            MayFault(i);
            long nextIp = (long)d.NextIp;
            _il.StoreField(EipField, () => _il.Emit(OpCodes.Ldc_I8, nextIp));
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldloc, _opsLocal);
            _il.Emit(OpCodes.Ldc_I4, i);
            _il.Emit(OpCodes.Ldelema, typeof(DecodedOp));
            _il.Emit(OpCodes.Ldc_I8, (long)d.Handler);
            _il.Emit(OpCodes.Conv_I);
            _il.Calli(typeof(void), [typeof(InterpreterCpu), typeof(DecodedOp).MakeByRefType()]);
            SetResult(i + 1);
            if (i == _ops.Length - 1)
            {
                _il.Emit(OpCodes.Br, _chain); // the handler set EIP; the file is up to date
                return;
            }
            var next = _il.DefineLabel();
            _il.LoadField(BreakField);
            _il.Emit(OpCodes.Brfalse, next);
            _il.Emit(OpCodes.Br, _end);
            _il.MarkLabel(next);
            LoadState();
        }

        /// <summary>
        /// Pushes register <paramref name="r"/>'s low 8, 16 or 32 bits as a uint; at 8 bits, <paramref name="r"/> with
        /// <see cref="HighByte"/> set is bits 8-15 (AH, CH, DH, BH).
        /// </summary>
        private void LoadGpr(int r, int size)
        {
            _il.Emit(OpCodes.Ldloc, _reg[r & 7]!);
            _il.Emit(OpCodes.Conv_U4);
            if (size == 4) return;
            if ((r & HighByte) != 0)
            {
                _il.Emit(OpCodes.Ldc_I4_8);
                _il.Emit(OpCodes.Shr_Un);
            }
            _il.Emit(OpCodes.Ldc_I4, (int)SizeMask(size));
            _il.Emit(OpCodes.And);
        }

        /// <summary>
        /// Writes the uint <paramref name="value"/> pushes to register <paramref name="r"/> (as LoadGpr names it): a
        /// 32-bit write zero-extends, an 8 or 16-bit one keeps the other bits.
        /// </summary>
        private void StoreGpr(int r, int size, Action value)
        {
            var local = _reg[r & 7]!;
            if (size == 4)
            {
                value();
                _il.Emit(OpCodes.Conv_U8);
            }
            else
            {
                int shift = (r & HighByte) != 0 ? 8 : 0;
                _il.Emit(OpCodes.Ldloc, local);
                _il.Emit(OpCodes.Ldc_I8, ~((long)SizeMask(size) << shift));
                _il.Emit(OpCodes.And);
                value();
                _il.Emit(OpCodes.Ldc_I4, (int)SizeMask(size));
                _il.Emit(OpCodes.And);
                if (shift != 0)
                {
                    _il.Emit(OpCodes.Ldc_I4, shift);
                    _il.Emit(OpCodes.Shl);
                }
                _il.Emit(OpCodes.Conv_U8);
                _il.Emit(OpCodes.Or);
            }
            _il.Emit(OpCodes.Stloc, local);
            _dirty |= 1 << (r & 7);
        }

        /// <summary>Pushes the effective address of the memory operand, as EffectiveAddress computes it.</summary>
        private void LoadAddress(ref DecodedOp d)
        {
            _il.Emit(OpCodes.Ldc_I4, (int)(uint)d.Disp);
            if (d.Base < 8)
            {
                _il.Emit(OpCodes.Ldloc, _reg[d.Base]!);
                _il.Emit(OpCodes.Conv_U4);
                _il.Emit(OpCodes.Add);
            }
            if (d.Index < 8)
            {
                _il.Emit(OpCodes.Ldloc, _reg[d.Index]!);
                _il.Emit(OpCodes.Conv_U4);
                if (d.Scale != 0)
                {
                    _il.Emit(OpCodes.Ldc_I4, (int)d.Scale);
                    _il.Emit(OpCodes.Shl);
                }
                _il.Emit(OpCodes.Add);
            }
            if (d.AddrMask != 0xFFFF_FFFF)
            {
                _il.Emit(OpCodes.Ldc_I4, (int)d.AddrMask);
                _il.Emit(OpCodes.And);
            }
        }

        /// <summary>
        /// A memory operand of <paramref name="size"/> bytes: its effective address and the RAM pointer
        /// DataPointer finds for it (null: the slow path), in new locals.
        /// </summary>
        private (LocalBuilder Address, LocalBuilder Pointer) Lookup(ref DecodedOp d, int size, bool write)
        {
            var op = d;
            return Lookup(d.Seg, () => LoadAddress(ref op), size, write);
        }

        /// <summary>As Lookup of an operand, for <paramref name="seg"/>:(what <paramref name="offset"/> pushes).</summary>
        private (LocalBuilder Address, LocalBuilder Pointer) Lookup(int seg, Action offset, int size, bool write)
        {
            var address = _il.DeclareLocal(typeof(uint));
            var pointer = _il.DeclareLocal(typeof(byte*));
            offset();
            _il.Emit(OpCodes.Stloc, address);
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldc_I4, seg);
            _il.Emit(OpCodes.Ldloc, address);
            _il.Emit(OpCodes.Ldc_I4, size);
            _il.Emit(write ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
            _il.Emit(OpCodes.Call, DataPointerMethod);
            _il.Emit(OpCodes.Stloc, pointer);
            return (address, pointer);
        }

        /// <summary>
        /// Pushes the operand <paramref name="at"/> found: read through its pointer, or on the slow path with the file
        /// brought up to date for a fault, through c.ReadData (<paramref name="destination"/>: the segment must be writable).
        /// </summary>
        private void ReadMemory(int seg, int i, (LocalBuilder Address, LocalBuilder Pointer) at, int size, bool destination)
        {
            var value = _il.DeclareLocal(typeof(uint));
            Label slow = _il.DefineLabel(), done = _il.DefineLabel();
            _il.Emit(OpCodes.Ldloc, at.Pointer);
            _il.Emit(OpCodes.Brfalse, slow);
            _il.Emit(OpCodes.Ldloc, at.Pointer);
            _il.Emit(size switch { 1 => OpCodes.Ldind_U1, 2 => OpCodes.Ldind_U2, _ => OpCodes.Ldind_U4 });
            _il.Emit(OpCodes.Stloc, value);
            _il.Emit(OpCodes.Br, done);
            _il.MarkLabel(slow);
            MayFaultOnSlowPath(i);
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldc_I4, seg);
            _il.Emit(OpCodes.Ldloc, at.Address);
            _il.Emit(OpCodes.Ldc_I4, size);
            _il.Emit(destination ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
            _il.Emit(OpCodes.Call, ReadDataMethod);
            _il.Emit(OpCodes.Stloc, value);
            _il.MarkLabel(done);
            _il.Emit(OpCodes.Ldloc, value);
        }

        /// <summary>
        /// Writes what <paramref name="value"/> pushes to the operand <paramref name="at"/> found: through its pointer,
        /// or on the slow path through c.WriteMem, the file first brought up to date unless a read of the same
        /// operand (<paramref name="read"/>) did that already. EndIfBroken follows once the instruction is done.
        /// </summary>
        private void WriteMemory(int seg, int i, (LocalBuilder Address, LocalBuilder Pointer) at, int size, Action value, bool read)
        {
            Label slow = _il.DefineLabel(), done = _il.DefineLabel();
            _il.Emit(OpCodes.Ldloc, at.Pointer);
            _il.Emit(OpCodes.Brfalse, slow);
            _il.Emit(OpCodes.Ldloc, at.Pointer);
            value();
            _il.Emit(size switch { 1 => OpCodes.Stind_I1, 2 => OpCodes.Stind_I2, _ => OpCodes.Stind_I4 });
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldloc, at.Pointer);
            _il.Emit(OpCodes.Call, NoteStoredMethod);
            _il.Emit(OpCodes.Br, done);
            _il.MarkLabel(slow);
            if (!read) MayFaultOnSlowPath(i);
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldc_I4, seg);
            _il.Emit(OpCodes.Ldloc, at.Address);
            _il.Emit(OpCodes.Ldc_I4, size);
            value();
            _il.Emit(OpCodes.Call, WriteMemMethod);
            _il.MarkLabel(done);
        }

        /// <summary>
        /// After a store done on the slow path: one that overwrote code (or reached a device that wrote to RAM) ends
        /// the block after instruction <paramref name="i"/>. (DataPointer finds no pointer for a store to code.)
        /// </summary>
        private void EndIfBroken(ref DecodedOp d, int i, LocalBuilder pointer)
        {
            var next = _il.DefineLabel();
            _il.Emit(OpCodes.Ldloc, pointer);
            _il.Emit(OpCodes.Brtrue, next);
            _il.LoadField(BreakField);
            _il.Emit(OpCodes.Brfalse, next);
            ExitTo(d.NextIp, i + 1);
            _il.MarkLabel(next);
        }

        private void EmitRegister(ref DecodedOp d, int i)
        {
            int dst = RegisterOf(d.Loc0, d.Reg0), size = d.OpSize;
            var m = d.I.Mnemonic;
            if (m is Mnemonic.Movzx or Mnemonic.Movsx)
            {
                int from = RegisterOf(d.Loc1, d.Reg1), fromSize = d.Loc1 == OperandLoc.Gpr16 ? 2 : 1;
                StoreGpr(dst, size, () => Extend(m, fromSize, () => LoadGpr(from, fromSize)));
                return;
            }
            if (m is Mnemonic.Inc or Mnemonic.Dec)
            {
                EmitIncDec(dst, size, m == Mnemonic.Dec, FlagsLive(i));
                return;
            }
            if (m is Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror)
            {
                EmitShift(m, dst, size, d.Imm & 0x1F, _live[i]);
                return;
            }
            if (m == Mnemonic.Lea)
            {
                var op = d;
                StoreGpr(dst, size, () => LoadAddress(ref op));
                return;
            }
            uint imm = d.Imm & SizeMask(size); // a 16-bit operation's sign-extended imm8, cut to 16 bits as ReadOp's callers do
            int src = RegisterOf(d.Loc1, d.Reg1);
            Action source = d.Loc1 == OperandLoc.Immediate ? () => _il.Emit(OpCodes.Ldc_I4, (int)imm) : () => LoadGpr(src, size);
            if (m == Mnemonic.Mov)
            {
                StoreGpr(dst, size, source);
                return;
            }
            EmitAlu(m, size, () => LoadGpr(dst, size), source, FlagsLive(i), result => StoreGpr(dst, size, result));
        }

        private void EmitMemory(ref DecodedOp d, int i)
        {
            int size = d.OpSize;
            var m = d.I.Mnemonic;
            var op = d;
            uint imm = d.Imm & SizeMask(size);
            int reg0 = RegisterOf(d.Loc0, d.Reg0), reg1 = RegisterOf(d.Loc1, d.Reg1);
            if (d.Loc1 == OperandLoc.Memory)
            {
                int fromSize = d.MemSize;
                var source = Lookup(ref d, fromSize, write: false);
                if (m is Mnemonic.Movzx or Mnemonic.Movsx)
                    StoreGpr(reg0, size, () => Extend(m, fromSize, () => ReadMemory(op.Seg, i, source, fromSize, destination: false)));
                else if (m == Mnemonic.Mov) StoreGpr(reg0, size, () => ReadMemory(op.Seg, i, source, size, destination: false));
                else
                {
                    var b = _il.DeclareLocal(typeof(uint));
                    ReadMemory(op.Seg, i, source, size, destination: false);
                    _il.Emit(OpCodes.Stloc, b);
                    EmitAlu(m, size, () => LoadGpr(reg0, size), () => _il.Emit(OpCodes.Ldloc, b), FlagsLive(i),
                        result => StoreGpr(reg0, size, result));
                }
                return;
            }
            Action value = d.Loc1 == OperandLoc.Immediate ? () => _il.Emit(OpCodes.Ldc_I4, (int)imm) : () => LoadGpr(reg1, size);
            bool store = m is not (Mnemonic.Cmp or Mnemonic.Test);
            var at = Lookup(ref d, size, write: store);
            if (m == Mnemonic.Mov)
            {
                WriteMemory(d.Seg, i, at, size, value, read: false);
                EndIfBroken(ref d, i, at.Pointer);
                return;
            }
            var a = _il.DeclareLocal(typeof(uint));
            ReadMemory(op.Seg, i, at, size, destination: store);
            _il.Emit(OpCodes.Stloc, a);
            // The flags go to the locals only after the store, which may still fault.
            EmitAlu(m, size, () => _il.Emit(OpCodes.Ldloc, a), value, FlagsLive(i), result => WriteMemory(op.Seg, i, at, size, result, read: true));
            if (store) EndIfBroken(ref d, i, at.Pointer);
        }

        /// <summary>MOVZX/MOVSX: the <paramref name="fromSize"/>-byte value <paramref name="value"/> pushes, extended to 32 bits.</summary>
        private void Extend(Mnemonic m, int fromSize, Action value)
        {
            value();
            if (m == Mnemonic.Movsx) _il.Emit(fromSize == 1 ? OpCodes.Conv_I1 : OpCodes.Conv_I2);
        }

        /// <summary>Whether anything can see a flag instruction <paramref name="i"/> writes.</summary>
        private bool FlagsLive(int i) => (_live[i] & OpcodeFlags(_ops[i].I.Code).Written) != 0;

        /// <summary>
        /// res = (a op b) cut to the operand size; <paramref name="store"/> writes it (not for CMP and TEST); then the
        /// flags, when anything can see them, go to the locals.
        /// </summary>
        private void EmitAlu(Mnemonic m, int size, Action loadA, Action loadB, bool flagsLive, Action<Action> store)
        {
            var a = _il.DeclareLocal(typeof(uint));
            var b = _il.DeclareLocal(typeof(uint));
            var res = _il.DeclareLocal(typeof(uint));
            // ADC/SBB: the carry in, from the pending flags (AluAdd/AluSub then record Adc/Sbb, or Add/Sub without one)
            bool withCarry = m is Mnemonic.Adc or Mnemonic.Sbb;
            var carry = withCarry ? _il.DeclareLocal(typeof(uint)) : null;
            if (carry != null)
            {
                PushCarry();
                _il.Emit(OpCodes.Stloc, carry);
            }
            loadA();
            _il.Emit(OpCodes.Stloc, a);
            loadB();
            _il.Emit(OpCodes.Stloc, b);
            _il.Emit(OpCodes.Ldloc, a);
            _il.Emit(OpCodes.Ldloc, b);
            var operation = m switch
            {
                Mnemonic.Add or Mnemonic.Adc => OpCodes.Add,
                Mnemonic.Sub or Mnemonic.Sbb or Mnemonic.Cmp => OpCodes.Sub,
                Mnemonic.And or Mnemonic.Test => OpCodes.And,
                Mnemonic.Or => OpCodes.Or,
                _ => OpCodes.Xor,
            };
            _il.Emit(operation);
            if (carry != null)
            {
                _il.Emit(OpCodes.Ldloc, carry);
                _il.Emit(operation);
            }
            if (size != 4)
            {
                _il.Emit(OpCodes.Ldc_I4, (int)SizeMask(size));
                _il.Emit(OpCodes.And);
            }
            _il.Emit(OpCodes.Stloc, res);
            if (m is not (Mnemonic.Cmp or Mnemonic.Test)) store(() => _il.Emit(OpCodes.Ldloc, res));
            if (!flagsLive) return;
            bool logic = m is Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Test;
            var op = m is Mnemonic.Add or Mnemonic.Adc ? LazyOp.Add : logic ? LazyOp.Logic : LazyOp.Sub;
            SetFlags(op, size, () => _il.Emit(OpCodes.Ldloc, res), logic ? null : () => _il.Emit(OpCodes.Ldloc, a), logic ? null : () => _il.Emit(OpCodes.Ldloc, b));
            if (carry == null) return;
            // _fOp = Add + carry (Adc) or Sub + carry (Sbb): known only at run time
            _il.Emit(OpCodes.Ldc_I4, (int)op);
            _il.Emit(OpCodes.Ldloc, carry);
            _il.Emit(OpCodes.Add);
            _il.Emit(OpCodes.Stloc, _fOp);
            _known = null;
        }

        /// <summary>Pushes CF (0 or 1) of the pending flags: from the known operation's operands where the block shows it.</summary>
        private void PushCarry()
        {
            switch (_known)
            {
                case LazyOp.Logic:
                    _il.Emit(OpCodes.Ldc_I4_0);
                    break;
                case LazyOp.Add or LazyOp.Sub:
                    // Add: res < a; Sub: a < b
                    _il.Emit(OpCodes.Ldloc, _known == LazyOp.Add ? _fRes : _fA);
                    _il.Emit(OpCodes.Ldloc, _known == LazyOp.Add ? _fA : _fB);
                    _il.Emit(OpCodes.Clt_Un);
                    break;
                case LazyOp.None or LazyOp.Inc or LazyOp.Dec:
                    _il.Emit(OpCodes.Ldloc, _fBits);
                    _il.Emit(OpCodes.Ldc_I4, (int)FlagCf);
                    _il.Emit(OpCodes.And);
                    break;
                default:
                    PushFlagLocals(size: false);
                    _il.Emit(OpCodes.Call, CarryOfMethod);
                    break;
            }
        }

        /// <summary>The lazy-flag locals := (op, res, a, b, size); a and b are 0 when null.</summary>
        private void SetFlags(LazyOp op, int size, Action res, Action? a, Action? b)
        {
            _il.Emit(OpCodes.Ldc_I4, (int)op);
            _il.Emit(OpCodes.Stloc, _fOp);
            res();
            _il.Emit(OpCodes.Conv_U8);
            _il.Emit(OpCodes.Stloc, _fRes);
            if (a != null) a(); else _il.Emit(OpCodes.Ldc_I4_0);
            _il.Emit(OpCodes.Conv_U8);
            _il.Emit(OpCodes.Stloc, _fA);
            if (b != null) b(); else _il.Emit(OpCodes.Ldc_I4_0);
            _il.Emit(OpCodes.Conv_U8);
            _il.Emit(OpCodes.Stloc, _fB);
            _il.Emit(OpCodes.Ldc_I4, size);
            _il.Emit(OpCodes.Stloc, _fSize);
            _known = op;
            _knownSize = size;
            _flagsDirty = true;
        }

        /// <summary>INC/DEC: CF keeps the pending operation's carry (IncDec's rule), the other five flags become pending.</summary>
        private void EmitIncDec(int r, int size, bool dec, bool flagsLive)
        {
            var a = _il.DeclareLocal(typeof(uint));
            var res = _il.DeclareLocal(typeof(uint));
            LoadGpr(r, size);
            _il.Emit(OpCodes.Stloc, a);
            _il.Emit(OpCodes.Ldloc, a);
            _il.Emit(OpCodes.Ldc_I4_1);
            _il.Emit(dec ? OpCodes.Sub : OpCodes.Add);
            if (size != 4)
            {
                _il.Emit(OpCodes.Ldc_I4, (int)SizeMask(size));
                _il.Emit(OpCodes.And);
            }
            _il.Emit(OpCodes.Stloc, res);
            StoreGpr(r, size, () => _il.Emit(OpCodes.Ldloc, res));
            if (!flagsLive) return;
            if (_known is not (LazyOp.Inc or LazyOp.Dec or LazyOp.None))
            {
                // _fBits = (_fBits & ~CF) | carry of the pending operation (CF is bit 0)
                _il.Emit(OpCodes.Ldloc, _fBits);
                _il.Emit(OpCodes.Ldc_I4, ~(int)FlagCf);
                _il.Emit(OpCodes.And);
                PushCarry();
                _il.Emit(OpCodes.Or);
                _il.Emit(OpCodes.Stloc, _fBits);
            }
            SetFlags(dec ? LazyOp.Dec : LazyOp.Inc, size, () => _il.Emit(OpCodes.Ldloc, res), () => _il.Emit(OpCodes.Ldloc, a), () => _il.Emit(OpCodes.Ldc_I4_1));
        }

        /// <summary>Pushes the lazy-flag locals as CarryOf (without <paramref name="size"/>) and FlagsOf take them.</summary>
        private void PushFlagLocals(bool size)
        {
            _il.Emit(OpCodes.Ldloc, _fOp);
            _il.Emit(OpCodes.Ldloc, _fRes);
            _il.Emit(OpCodes.Ldloc, _fA);
            _il.Emit(OpCodes.Ldloc, _fB);
            if (size) _il.Emit(OpCodes.Ldloc, _fSize);
            _il.Emit(OpCodes.Ldloc, _fBits);
        }

        /// <summary>
        /// SHL/SAL/SHR/SAR/ROL/ROR of a register by a constant 1-31, through the interpreter's Shift and Rotate. Shifts
        /// set all six flags; rotates set CF and OF, so the pending flags are computed first (FlagsOf) unless known done
        /// or none of the other four can be seen (<paramref name="live"/>: the flags seen after it).
        /// </summary>
        private void EmitShift(Mnemonic m, int r, int size, uint count, RflagsBits live)
        {
            bool rotate = m is Mnemonic.Rol or Mnemonic.Ror;
            var res = _il.DeclareLocal(typeof(uint));
            var flags = _il.DeclareLocal(typeof(uint));
            if (rotate) _il.Emit(m == Mnemonic.Rol ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
            else _il.Emit(OpCodes.Ldc_I4, (int)(m == Mnemonic.Sal ? Mnemonic.Shl : m));
            LoadGpr(r, size);
            _il.Emit(OpCodes.Ldc_I4, (int)count);
            _il.Emit(OpCodes.Ldc_I4, size);
            _il.Emit(OpCodes.Ldloca, flags);
            _il.Emit(OpCodes.Call, rotate ? RotateMethod : ShiftMethod);
            _il.Emit(OpCodes.Stloc, res);
            StoreGpr(r, size, () => _il.Emit(OpCodes.Ldloc, res));
            if (live == 0) return;
            // _fBits = (pending flags computed, or _fBits) & ~(the flags written) | flags; _fOp = None
            if (rotate && _known != LazyOp.None && (live & (RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.PF)) != 0)
            {
                PushFlagLocals(size: true);
                _il.Emit(OpCodes.Call, FlagsOfMethod);
            }
            else _il.Emit(OpCodes.Ldloc, _fBits);
            _il.Emit(OpCodes.Ldc_I4, ~(int)(rotate ? FlagCf | FlagOf : ArithFlags));
            _il.Emit(OpCodes.And);
            _il.Emit(OpCodes.Ldloc, flags);
            _il.Emit(OpCodes.Or);
            _il.Emit(OpCodes.Stloc, _fBits);
            _il.Emit(OpCodes.Ldc_I4_0);
            _il.Emit(OpCodes.Stloc, _fOp);
            _known = LazyOp.None;
            _flagsDirty = true;
        }

        /// <summary>PUSH of a register or an immediate, POP to a register (16/32-bit operands, SS:SP or SS:ESP by SS.B).</summary>
        private void EmitStack(ref DecodedOp d, int i)
        {
            int size = d.OpSize, r = d.Reg0;
            if (d.I.Mnemonic == Mnemonic.Pop)
            {
                var value = _il.DeclareLocal(typeof(uint));
                Release(ReadTop(i, size, value), (uint)size);
                StoreGpr(r, size, () => _il.Emit(OpCodes.Ldloc, value)); // after ESP: POP ESP loads the popped value
                return;
            }
            uint imm = d.Imm & SizeMask(size);
            var at = Push(i, size, d.Loc0 == OperandLoc.Immediate ? () => _il.Emit(OpCodes.Ldc_I4, (int)imm) : () => LoadGpr(r, size));
            EndIfBroken(ref d, i, at);
        }

        /// <summary>
        /// Push's order: SP - size under the stack mask, the store (which may fault, ESP untouched), then ESP. Returns
        /// the store's pointer local, for EndIfBroken.
        /// </summary>
        private LocalBuilder Push(int i, int size, Action value)
        {
            var sp = _il.DeclareLocal(typeof(uint));
            LoadGpr(RegEsp, 4);
            _il.Emit(OpCodes.Ldc_I4, size);
            _il.Emit(OpCodes.Sub);
            _il.Emit(OpCodes.Ldloc, _stackMask);
            _il.Emit(OpCodes.And);
            _il.Emit(OpCodes.Stloc, sp);
            var at = Lookup(SegSs, () => _il.Emit(OpCodes.Ldloc, sp), size, write: true);
            WriteMemory(SegSs, i, at, size, value, read: false);
            SetStackPointer(() => _il.Emit(OpCodes.Ldloc, sp));
            return at.Pointer;
        }

        /// <summary>
        /// A pop's read: <paramref name="value"/> = the operand at SS:SP (which may fault, ESP untouched); returns the
        /// local holding SP, for Release once nothing else can fault.
        /// </summary>
        private LocalBuilder ReadTop(int i, int size, LocalBuilder value)
        {
            var sp = _il.DeclareLocal(typeof(uint));
            LoadGpr(RegEsp, 4);
            _il.Emit(OpCodes.Ldloc, _stackMask);
            _il.Emit(OpCodes.And);
            _il.Emit(OpCodes.Stloc, sp);
            var at = Lookup(SegSs, () => _il.Emit(OpCodes.Ldloc, sp), size, write: false);
            ReadMemory(SegSs, i, at, size, destination: false);
            _il.Emit(OpCodes.Stloc, value);
            return sp;
        }

        /// <summary>ESP = SP + <paramref name="bytes"/> under the stack mask, SP from ReadTop.</summary>
        private void Release(LocalBuilder sp, uint bytes) =>
            SetStackPointer(() =>
            {
                _il.Emit(OpCodes.Ldloc, sp);
                _il.Emit(OpCodes.Ldc_I4, (int)bytes);
                _il.Emit(OpCodes.Add);
                _il.Emit(OpCodes.Ldloc, _stackMask);
                _il.Emit(OpCodes.And);
            });

        /// <summary>ESP = (ESP &amp; keep) | (what <paramref name="sp"/> pushes, already under the stack mask): SetSp's rule.</summary>
        private void SetStackPointer(Action sp)
        {
            var esp = _reg[RegEsp]!;
            _il.Emit(OpCodes.Ldloc, esp);
            _il.Emit(OpCodes.Ldloc, _stackKeep);
            _il.Emit(OpCodes.And);
            sp();
            _il.Emit(OpCodes.Conv_U8);
            _il.Emit(OpCodes.Or);
            _il.Emit(OpCodes.Stloc, esp);
            _dirty |= 1 << RegEsp;
        }

        /// <summary>The closing JMP rel, Jcc, CALL rel or RET: to its own block's start, another pass; elsewhere, EIP set and out.</summary>
        private void EmitBranch(ref DecodedOp d, int i)
        {
            ulong target = d.Imm, fallThrough = d.NextIp;
            int n = _ops.Length;
            if (d.I.Mnemonic == Mnemonic.Ret)
            {
                EmitReturn(ref d, i);
                return;
            }
            if (d.I.Mnemonic == Mnemonic.Call)
            {
                // The target's limit check comes before the push (Call's order); the block's own start needs none.
                if (target != _block.Eip)
                {
                    MayFault(i);
                    _il.Emit(OpCodes.Ldarg_0);
                    _il.Emit(OpCodes.Ldc_I4, (int)(uint)target);
                    _il.Emit(OpCodes.Call, NearJumpMethod);
                }
                uint back = (uint)d.NextIp & SizeMask(d.OpSize);
                Push(i, d.OpSize, () => _il.Emit(OpCodes.Ldc_I4, (int)back));
                if (target == _block.Eip) Jump(target, i);
                else
                {
                    SetResult(n);
                    _il.Emit(OpCodes.Br, _exit);
                }
                return;
            }
            if (d.I.IsJmpShortOrNear)
            {
                Jump(target, i);
                return;
            }
            var taken = _il.DefineLabel();
            PushCondition(d.Cond);
            _il.Emit(OpCodes.Brtrue, taken);
            ExitTo(fallThrough, n);
            _il.MarkLabel(taken);
            Jump(target, i);
        }

        /// <summary>RET [imm16]: the return address read (may fault), NearJump's limit check on it, then ESP, and out.</summary>
        private void EmitReturn(ref DecodedOp d, int i)
        {
            var target = _il.DeclareLocal(typeof(uint));
            int size = d.OpSize;
            var sp = ReadTop(i, size, target);
            MayFault(i);
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldloc, target);
            _il.Emit(OpCodes.Call, NearJumpMethod);
            Release(sp, (uint)size + (d.I.OpCount > 0 ? d.Imm & 0xFFFF : 0));
            SetResult(_ops.Length);
            _il.Emit(OpCodes.Br, _exit);
        }

        /// <summary>A taken branch to <paramref name="target"/>: the loop back to the top, or NearJump's limit check and out.</summary>
        private void Jump(ulong target, int i)
        {
            int n = _ops.Length;
            if (target == _block.Eip)
            {
                // count += n; if (count < LoopBudget && c.MayLoop(eip, phys)) goto top;
                var leave = _il.DefineLabel();
                _il.Emit(OpCodes.Ldloc, _count);
                _il.Emit(OpCodes.Ldc_I4, n);
                _il.Emit(OpCodes.Add);
                _il.Emit(OpCodes.Stloc, _count);
                _il.Emit(OpCodes.Ldloc, _count);
                _il.Emit(OpCodes.Ldc_I4, LoopBudget);
                _il.Emit(OpCodes.Bge, leave);
                _il.Emit(OpCodes.Ldarg_0);
                _il.Emit(OpCodes.Ldc_I4, (int)(uint)_block.Eip);
                _il.Emit(OpCodes.Ldc_I4, (int)_block.Phys);
                _il.Emit(OpCodes.Ldloc, _count);
                _il.Emit(OpCodes.Ldc_I4, n);
                _il.Emit(_handlers ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
                _il.Emit(OpCodes.Call, MayLoopMethod);
                _il.Emit(OpCodes.Brfalse, leave);
                _known = null;
                _il.Emit(OpCodes.Br, _top);
                _il.MarkLabel(leave);
                ExitTo(target, 0);
                return;
            }
            MayFault(i); // a target past the CS limit is #GP at the branch
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldc_I4, (int)(uint)target);
            _il.Emit(OpCodes.Call, NearJumpMethod);
            SetResult(n);
            _il.Emit(OpCodes.Br, _exit);
        }

        /// <summary>Pushes whether condition <paramref name="cc"/> holds, from the known operation's operands where the block shows it.</summary>
        private void PushCondition(ConditionCode cc)
        {
            var op = _known;
            int sign = _knownSize * 8 - 1;
            void Res() => _il.Emit(OpCodes.Ldloc, _fRes);
            void Zero() { Res(); _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Conv_U8); _il.Emit(OpCodes.Ceq); }
            void Sign() { Res(); _il.Emit(OpCodes.Ldc_I4, sign); _il.Emit(OpCodes.Shr_Un); _il.Emit(OpCodes.Conv_I4); _il.Emit(OpCodes.Ldc_I4_1); _il.Emit(OpCodes.And); }
            void Not() { _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Ceq); }
            void Operands(bool signed)
            {
                foreach (var local in new[] { _fA, _fB })
                {
                    _il.Emit(OpCodes.Ldloc, local);
                    if (signed) _il.Emit(_knownSize switch { 1 => OpCodes.Conv_I1, 2 => OpCodes.Conv_I2, _ => OpCodes.Conv_I4 });
                }
            }
            bool lazy = op is not (null or LazyOp.None);
            if (lazy && cc is ConditionCode.e or ConditionCode.ne)
            {
                Zero();
                if (cc == ConditionCode.ne) Not();
                return;
            }
            if (lazy && cc is ConditionCode.s or ConditionCode.ns)
            {
                Sign();
                if (cc == ConditionCode.ns) Not();
                return;
            }
            if (op == LazyOp.Sub)
            {
                switch (cc)
                {
                    case ConditionCode.b: Operands(false); _il.Emit(OpCodes.Clt_Un); return;
                    case ConditionCode.ae: Operands(false); _il.Emit(OpCodes.Clt_Un); Not(); return;
                    case ConditionCode.a: Operands(false); _il.Emit(OpCodes.Cgt_Un); return;
                    case ConditionCode.be: Operands(false); _il.Emit(OpCodes.Cgt_Un); Not(); return;
                    case ConditionCode.l: Operands(true); _il.Emit(OpCodes.Clt); return;
                    case ConditionCode.ge: Operands(true); _il.Emit(OpCodes.Clt); Not(); return;
                    case ConditionCode.g: Operands(true); _il.Emit(OpCodes.Cgt); return;
                    case ConditionCode.le: Operands(true); _il.Emit(OpCodes.Cgt); Not(); return;
                }
            }
            // Anything else: the interpreter's Condition on the flags written back.
            StoreState(all: false);
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldc_I4, (int)cc);
            _il.Emit(OpCodes.Call, ConditionMethod);
        }
    }

    /// <summary>An ILGenerator that can also write what it emits as text, for the translation dump.</summary>
    private sealed class Il(ILGenerator il, bool record)
    {
        private readonly System.Text.StringBuilder _text = new();
        public int Size => il.ILOffset;
        public string Text => _text.ToString();

        public void Comment(string line)
        {
            if (record) _text.AppendLine($"  ; {line}");
        }

        private void Record(OpCode op, object? operand = null)
        {
            if (record) _text.AppendLine(operand == null ? $"    {op.Name}" : $"    {op.Name} {operand}");
        }

        public void Emit(OpCode op) { Record(op); il.Emit(op); }
        public void Emit(OpCode op, int value) { Record(op, value); il.Emit(op, value); }
        public void Emit(OpCode op, long value) { Record(op, $"0x{value:x}"); il.Emit(op, value); }
        public void Emit(OpCode op, Type type) { Record(op, type.Name); il.Emit(op, type); }
        public void Emit(OpCode op, LocalBuilder local) { Record(op, $"V_{local.LocalIndex}"); il.Emit(op, local); }
        public void Emit(OpCode op, Label label) { Record(op, $"L{label.Id}"); il.Emit(op, label); }
        public void Emit(OpCode op, MethodInfo method) { Record(op, method.Name); il.Emit(op, method); }

        public void Emit(OpCode op, FieldInfo field) { Record(op, field.Name); il.Emit(op, field); }

        /// <summary>tail. callvirt: the chained block replaces this one's frame, so a chain of any length keeps the stack flat.</summary>
        public void TailCall(MethodInfo method)
        {
            Emit(OpCodes.Tailcall);
            Emit(OpCodes.Callvirt, method);
        }
        public LocalBuilder DeclareLocal(Type type) => il.DeclareLocal(type);
        public Label DefineLabel() => il.DefineLabel();

        public void MarkLabel(Label label)
        {
            if (record) _text.AppendLine($"  L{label.Id}:");
            il.MarkLabel(label);
        }

        public void Calli(Type result, Type[] parameters)
        {
            Record(OpCodes.Calli, "void(InterpreterCpu, ref DecodedOp)");
            il.EmitCalli(OpCodes.Calli, CallingConventions.Standard, result, parameters, null);
        }

        public void LoadField(FieldInfo field)
        {
            Emit(OpCodes.Ldarg_0);
            Record(OpCodes.Ldfld, field.Name);
            il.Emit(OpCodes.Ldfld, field);
        }

        /// <summary>this.field = what <paramref name="value"/> pushes.</summary>
        public void StoreField(FieldInfo field, Action value)
        {
            Emit(OpCodes.Ldarg_0);
            value();
            Record(OpCodes.Stfld, field.Name);
            il.Emit(OpCodes.Stfld, field);
        }
    }
}
