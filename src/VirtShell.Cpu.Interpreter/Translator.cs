using System.Diagnostics;
using System.Reflection;
using System.Reflection.Emit;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace VirtShell.Cpu.Interpreter;

/// <summary>Which tier runs guest code.</summary>
public enum CpuTier
{
    /// <summary>The interpreter until the translator is proven everywhere (today: the interpreter).</summary>
    Auto,
    /// <summary>Every block is interpreted.</summary>
    Interpreter,
    /// <summary>Blocks that run often are compiled to .NET IL; the rest are interpreted.</summary>
    Translator,
}

/// <summary>What the translating tier has done: blocks compiled, the guest instructions in them, the time and IL spent.</summary>
public readonly record struct TranslationStatistics(long Blocks, long Instructions, long InlinedInstructions, TimeSpan CompileTime, long IlBytes);

/// <summary>A compiled block: runs the block's instructions from the first and returns how many it retired.</summary>
internal delegate int CompiledBlock(InterpreterCpu cpu, DecodedOp[] ops);

// The translating tier. A block that has run TranslateAfter times is compiled to one DynamicMethod: the JIT then sees
// straight-line code with each instruction's next IP and handler as constants, and the simple register-to-register
// integer instructions (MOV, ADD, SUB, CMP, AND, OR, XOR, TEST, INC, DEC on 16- and 32-bit registers) as inline IL,
// and MOV between a register and memory as direct calls of the interpreter's memory accessors. Everything else is a
// direct call of the interpreter's own handler, so the two tiers share every register, the lazy flags,
// the TLB, the fault path and the rules of the block cache: a compiled block lives on its Block, so it is dropped with
// it when its code is overwritten, and it follows the same chaining (NextBlock) as the interpreter. An instruction
// that sets _breakBlock ends the compiled block after it, exactly where the interpreter's loop stops. A fault leaves the
// state of the faulting instruction because handlers fault before they change anything; RunLoop counts the
// instructions retired before it from _instrStart (RetiredBefore).
//
// Flags: an inline instruction records its lazy flags (the interpreter's fields, the same values), except where the
// opcode table says the next inline instructions overwrite all six arithmetic flags before anything reads them or can
// fault; then it records nothing.
public sealed unsafe partial class InterpreterCpu
{
    private CpuTier _tier = CpuTier.Auto;
    private bool _translate;
    /// <summary>Runs of a block before it is compiled (tests compile at once).</summary>
    internal int TranslateAfter { get; set; } = 64;
    private long _translatedBlocks, _translatedInstructions, _inlinedInstructions, _translationTicks, _translatedIlBytes;
    /// <summary>Where each compiled block's guest instructions and IL are written, if anywhere.</summary>
    private TextWriter? _translationDump;

    /// <summary>The tier that runs guest code; Auto is the interpreter until the translator is proven (docs/cpu.md).</summary>
    public CpuTier Tier
    {
        get => _tier;
        set
        {
            _tier = value;
            _translate = value == CpuTier.Translator;
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

    /// <summary>The instructions of <paramref name="block"/> before the one at <see cref="_instrStart"/>: those a fault in a compiled block retired.</summary>
    private int RetiredBefore(Block block)
    {
        ulong ip = block.Eip;
        for (int i = 0; i < block.Ops.Length; i++)
        {
            if (ip == _instrStart) return i;
            ip = block.Ops[i].NextIp;
        }
        return block.Ops.Length;
    }

    private static readonly FieldInfo EipField = Field(nameof(_eip)), InstrStartField = Field(nameof(_instrStart)),
        BreakField = Field(nameof(_breakBlock)), GprField = Field(nameof(_gpr)), LazyOpField = Field(nameof(_lazyOp)),
        LazyResField = Field(nameof(_lazyRes)), LazyAField = Field(nameof(_lazyA)), LazyBField = Field(nameof(_lazyB)),
        LazySizeField = Field(nameof(_lazySize));
    private static readonly MethodInfo IncDecMethod = Method(nameof(IncDec)), ReadMemMethod = Method(nameof(ReadMem)),
        WriteMemMethod = Method(nameof(WriteMem)), EffectiveAddressMethod = Method(nameof(EffectiveAddress));

    private static MethodInfo Method(string name) =>
        typeof(InterpreterCpu).GetMethod(name, BindingFlags.Instance | BindingFlags.NonPublic)!;

    private static FieldInfo Field(string name) =>
        typeof(InterpreterCpu).GetField(name, BindingFlags.Instance | BindingFlags.NonPublic)!;

    /// <summary>Compiles <paramref name="block"/>; false (and the block stays interpreted) for 64-bit code.</summary>
    private bool Translate(Block block)
    {
        if (block.Mode == Code64) return false; // 64-bit operands and addressing are not inlined yet: nothing to gain
        long start = Stopwatch.GetTimestamp();
        // Anonymously hosted with restricted skip visibility: CreateDelegate then JIT-compiles the method at once, so
        // the compile time counted below is the whole cost.
        var method = new DynamicMethod($"block_{block.Phys:x8}_{block.Eip:x}", typeof(int), [typeof(InterpreterCpu), typeof(DecodedOp[])],
            restrictedSkipVisibility: true);
        var il = new Il(method.GetILGenerator(), _translationDump != null);
        var ops = block.Ops;
        bool eipStale = false;
        for (int i = 0; i < ops.Length; i++)
        {
            ref var d = ref ops[i];
            il.Comment($"{d.I.IP:x8} {d.I}");
            if (Inlinable(ref d))
            {
                EmitInline(il, ref d, FlagsLive(ops, i));
                _inlinedInstructions++;
                eipStale = true;
                continue;
            }
            if (eipStale) il.StoreField(EipField, () => il.Emit(OpCodes.Ldc_I8, (long)(i == 0 ? block.Eip : ops[i - 1].NextIp)));
            eipStale = false;
            // c._instrStart = c._eip; c._eip = NextIp; handler(c, ref ops[i]); if (c._breakBlock) return i + 1;
            il.StoreField(InstrStartField, () => il.LoadField(EipField));
            long nextIp = (long)d.NextIp;
            il.StoreField(EipField, () => il.Emit(OpCodes.Ldc_I8, nextIp));
            if (MemoryMove(ref d)) EmitMemoryMove(il, ref d, i);
            else
            {
                il.Emit(OpCodes.Ldarg_0);
                LoadOp(il, i);
                il.Emit(OpCodes.Ldc_I8, (long)d.Handler);
                il.Emit(OpCodes.Conv_I);
                il.Calli(typeof(void), [typeof(InterpreterCpu), typeof(DecodedOp).MakeByRefType()]);
            }
            if (i < ops.Length - 1)
            {
                var next = il.DefineLabel();
                il.LoadField(BreakField);
                il.Emit(OpCodes.Brfalse, next);
                il.Emit(OpCodes.Ldc_I4, i + 1);
                il.Emit(OpCodes.Ret);
                il.MarkLabel(next);
            }
        }
        if (eipStale) il.StoreField(EipField, () => il.Emit(OpCodes.Ldc_I8, (long)ops[^1].NextIp));
        il.Emit(OpCodes.Ldc_I4, ops.Length);
        il.Emit(OpCodes.Ret);
        block.Compiled = (CompiledBlock)method.CreateDelegate(typeof(CompiledBlock));
        _translationTicks += Stopwatch.GetTimestamp() - start;
        _translatedBlocks++;
        _translatedInstructions += ops.Length;
        _translatedIlBytes += il.Size;
        if (_translationDump != null)
        {
            _translationDump.WriteLine($"block {block.Eip:x8} (physical {block.Phys:x8}, {ops.Length} instructions, {il.Size} bytes of IL)");
            _translationDump.WriteLine(il.Text);
            _translationDump.Flush();
        }
        return true;
    }

    /// <summary>A 16- or 32-bit operation on general registers (and an immediate) that cannot fault: done inline.</summary>
    private static bool Inlinable(ref DecodedOp d)
    {
        var register = d.OpSize == 4 ? OperandLoc.Gpr32 : d.OpSize == 2 ? OperandLoc.Gpr16 : OperandLoc.Other;
        if (register == OperandLoc.Other || d.Loc0 != register) return false;
        return d.I.OpCount == 2 && (d.Loc1 == register || d.Loc1 == OperandLoc.Immediate) &&
               d.I.Mnemonic is Mnemonic.Mov or Mnemonic.Add or Mnemonic.Sub or Mnemonic.Cmp or Mnemonic.And or Mnemonic.Or
                   or Mnemonic.Xor or Mnemonic.Test
               || d.I.OpCount == 1 && d.I.Mnemonic is Mnemonic.Inc or Mnemonic.Dec;
    }

    /// <summary>MOV between a 16/32-bit register and memory: the calls MovOp makes, without the dispatch and operand switches.</summary>
    private static bool MemoryMove(ref DecodedOp d) =>
        d.I.Mnemonic == Mnemonic.Mov && d.OpSize is 2 or 4 && d.MemSize == d.OpSize &&
        (d.Loc0 == OperandLoc.Memory && d.Loc1 == GprLoc(d.OpSize) || d.Loc1 == OperandLoc.Memory && d.Loc0 == GprLoc(d.OpSize));

    private static OperandLoc GprLoc(int size) => size == 4 ? OperandLoc.Gpr32 : OperandLoc.Gpr16;

    /// <summary>ReadMem/WriteMem(seg, EffectiveAddress(ref ops[i]), size): the same accessors, so the same TLB, limits and faults.</summary>
    private static void EmitMemoryMove(Il il, ref DecodedOp d, int i)
    {
        int seg = d.Seg, size = d.OpSize;
        void Address()
        {
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldc_I4, seg);
            il.Emit(OpCodes.Ldarg_0);
            LoadOp(il, i);
            il.Emit(OpCodes.Call, EffectiveAddressMethod);
            il.Emit(OpCodes.Ldc_I4, size);
        }
        if (d.Loc1 == OperandLoc.Memory)
        {
            StoreGpr(il, d.Reg0, size, () =>
            {
                Address();
                il.Emit(OpCodes.Call, ReadMemMethod);
            });
            return;
        }
        Address();
        LoadGpr(il, d.Reg1, size);
        il.Emit(OpCodes.Call, WriteMemMethod);
    }

    /// <summary>Pushes ref ops[i].</summary>
    private static void LoadOp(Il il, int i)
    {
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldc_I4, i);
        il.Emit(OpCodes.Ldelema, typeof(DecodedOp));
    }

    /// <summary>
    /// Whether the flags instruction <paramref name="i"/> writes can be seen: false only when the following inline
    /// instructions overwrite all six arithmetic flags before any instruction reads them, keeps some of them (INC's CF)
    /// or calls a handler (which may read them or fault).
    /// </summary>
    private static bool FlagsLive(DecodedOp[] ops, int i)
    {
        const RflagsBits arithmetic = RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.CF | RflagsBits.PF;
        for (int k = i + 1; k < ops.Length; k++)
        {
            if (!Inlinable(ref ops[k])) return true;
            var (read, written) = OpcodeFlags(ops[k].I.Code);
            if ((read & arithmetic) != 0) return true;
            written &= arithmetic;
            if (written == arithmetic) return false;
            if (written != 0) return true;
        }
        return true; // the block's end: the next block may read them
    }

    private void EmitInline(Il il, ref DecodedOp d, bool flagsLive)
    {
        int dst = d.Reg0, src = d.Reg1, size = d.OpSize;
        var m = d.I.Mnemonic;
        bool immediate = d.Loc1 == OperandLoc.Immediate;
        uint imm = d.Imm & SizeMask(size); // a 16-bit operation's sign-extended imm8, cut to 16 bits as ReadOp's callers do
        if (m is Mnemonic.Inc or Mnemonic.Dec)
        {
            // IncDec keeps CF from the pending flags, so it always runs (FlagsLive never drops the flags before it).
            StoreGpr(il, dst, size, () =>
            {
                il.Emit(OpCodes.Ldarg_0);
                LoadGpr(il, dst, size);
                il.Emit(OpCodes.Conv_U8);
                il.Emit(m == Mnemonic.Dec ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
                il.Emit(OpCodes.Ldc_I4, size);
                il.Emit(OpCodes.Call, IncDecMethod);
                il.Emit(OpCodes.Conv_U4);
            });
            return;
        }
        void LoadSource()
        {
            if (immediate) il.Emit(OpCodes.Ldc_I4, (int)imm);
            else LoadGpr(il, src, size);
        }
        if (m == Mnemonic.Mov)
        {
            StoreGpr(il, dst, size, LoadSource);
            return;
        }
        // a = gpr[dst]; b = source; res = (a op b) cut to the operand size
        var a = il.DeclareLocal(typeof(uint));
        var b = il.DeclareLocal(typeof(uint));
        var res = il.DeclareLocal(typeof(uint));
        LoadGpr(il, dst, size);
        il.Emit(OpCodes.Stloc, a);
        LoadSource();
        il.Emit(OpCodes.Stloc, b);
        il.Emit(OpCodes.Ldloc, a);
        il.Emit(OpCodes.Ldloc, b);
        il.Emit(m switch
        {
            Mnemonic.Add => OpCodes.Add,
            Mnemonic.Sub or Mnemonic.Cmp => OpCodes.Sub,
            Mnemonic.And or Mnemonic.Test => OpCodes.And,
            Mnemonic.Or => OpCodes.Or,
            _ => OpCodes.Xor,
        });
        if (size != 4)
        {
            il.Emit(OpCodes.Ldc_I4, (int)SizeMask(size));
            il.Emit(OpCodes.And);
        }
        il.Emit(OpCodes.Stloc, res);
        if (flagsLive)
        {
            bool logic = m is Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Test;
            var op = m == Mnemonic.Add ? LazyOp.Add : logic ? LazyOp.Logic : LazyOp.Sub;
            il.StoreField(LazyOpField, () => il.Emit(OpCodes.Ldc_I4, (int)op));
            il.StoreField(LazyResField, () => { il.Emit(OpCodes.Ldloc, res); il.Emit(OpCodes.Conv_U8); });
            il.StoreField(LazyAField, () => { if (logic) il.Emit(OpCodes.Ldc_I4_0); else il.Emit(OpCodes.Ldloc, a); il.Emit(OpCodes.Conv_U8); });
            il.StoreField(LazyBField, () => { if (logic) il.Emit(OpCodes.Ldc_I4_0); else il.Emit(OpCodes.Ldloc, b); il.Emit(OpCodes.Conv_U8); });
            il.StoreField(LazySizeField, () => il.Emit(OpCodes.Ldc_I4, size));
        }
        if (m is not (Mnemonic.Cmp or Mnemonic.Test)) StoreGpr(il, dst, size, () => il.Emit(OpCodes.Ldloc, res));
    }

    /// <summary>Pushes register <paramref name="r"/>'s low 16 or 32 bits as a uint.</summary>
    private static void LoadGpr(Il il, int r, int size)
    {
        il.LoadField(GprField);
        il.Emit(OpCodes.Ldc_I4, r * 8);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Ldind_I8);
        il.Emit(OpCodes.Conv_U4);
        if (size == 2)
        {
            il.Emit(OpCodes.Ldc_I4, 0xFFFF);
            il.Emit(OpCodes.And);
        }
    }

    /// <summary>
    /// Writes the uint <paramref name="value"/> pushes to register <paramref name="r"/>: a 32-bit write zero-extends,
    /// a 16-bit one keeps bits 16-63.
    /// </summary>
    private static void StoreGpr(Il il, int r, int size, Action value)
    {
        il.LoadField(GprField);
        il.Emit(OpCodes.Ldc_I4, r * 8);
        il.Emit(OpCodes.Add);
        if (size == 2)
        {
            il.Emit(OpCodes.Dup);
            il.Emit(OpCodes.Ldind_I8);
            il.Emit(OpCodes.Ldc_I8, ~0xFFFFL);
            il.Emit(OpCodes.And);
            value();
            il.Emit(OpCodes.Ldc_I4, 0xFFFF);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Conv_U8);
            il.Emit(OpCodes.Or);
        }
        else
        {
            value();
            il.Emit(OpCodes.Conv_U8);
        }
        il.Emit(OpCodes.Stind_I8);
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
        public void Emit(OpCode op, Label label) { Record(op, "next"); il.Emit(op, label); }
        public void Emit(OpCode op, MethodInfo method) { Record(op, method.Name); il.Emit(op, method); }
        public LocalBuilder DeclareLocal(Type type) => il.DeclareLocal(type);
        public Label DefineLabel() => il.DefineLabel();

        public void MarkLabel(Label label)
        {
            if (record) _text.AppendLine("  next:");
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
