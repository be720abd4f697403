using System.Text;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

/// <summary>The decoder situations a row's handler is right for.</summary>
[Flags]
internal enum CpuModes : byte
{
    /// <summary>The 16/32-bit decoder: real, virtual-8086, protected and compatibility mode.</summary>
    Legacy = 1,
    /// <summary>64-bit mode with an 8-, 16- or 32-bit operand.</summary>
    Long = 2,
    /// <summary>64-bit mode with a 64-bit operand (REX.W, or the 64-bit default of near branches and the stack).</summary>
    LongWide = 4,
    /// <summary>A 64-bit-mode handler whatever the operand size.</summary>
    Long64 = Long | LongWide,
    /// <summary>A 16/32-bit handler that is also right in 64-bit mode, where its memory operands take the 64-bit path.</summary>
    LegacyAndLong = Legacy | Long,
    All = Legacy | Long | LongWide,
}

/// <summary>
/// One row of the opcode table: which instructions (every encoding of a mnemonic, or one Iced <see cref="Iced.Intel.Code"/>),
/// in which modes, run which handler. Operand shapes, the flags read and written and lockability are the ISA's, taken
/// from Iced's tables for the row's encodings (<see cref="InterpreterCpu.Encodings"/>); a row overrides the flags only
/// where this CPU runs an instruction as another (TZCNT as BSF).
/// </summary>
internal readonly unsafe struct OpcodeRow
{
    public readonly Mnemonic Mnemonic;
    /// <summary>One encoding of <see cref="Mnemonic"/> only (two instructions sharing a mnemonic), else INVALID.</summary>
    public readonly Code Code;
    public readonly CpuModes Modes;
    public readonly delegate*<InterpreterCpu, ref DecodedOp, void> Handler;
    /// <summary>The mnemonic whose flag behaviour this row has (itself unless it runs as another instruction).</summary>
    public readonly Mnemonic FlagsOf;
    /// <summary>The group file that holds the handler (filled in by the table).</summary>
    public readonly string Group;

    public OpcodeRow(Mnemonic mnemonic, Code code, CpuModes modes, delegate*<InterpreterCpu, ref DecodedOp, void> handler,
        Mnemonic flagsOf = Mnemonic.INVALID, string group = "")
    {
        Mnemonic = mnemonic;
        Code = code;
        Modes = modes;
        Handler = handler;
        FlagsOf = flagsOf == Mnemonic.INVALID ? mnemonic : flagsOf;
        Group = group;
    }

    public OpcodeRow As(Mnemonic flagsOf) => new(Mnemonic, Code, Modes, Handler, flagsOf, Group);
    public OpcodeRow In(string group) => new(Mnemonic, Code, Modes, Handler, FlagsOf, group);
}

/// <summary>One encoding a row covers, with what Iced knows of it.</summary>
internal readonly record struct OpcodeEncoding(
    Code Code, string Form, CpuModes Modes, RflagsBits FlagsRead, RflagsBits FlagsWritten, bool Lockable);

// The opcode table: every group file lists its own rows beside its handlers (ArithmeticOps() in Arithmetic.cs ...);
// this file puts them in one table, checks that no two rows claim the same instruction in the same mode, and derives
// the dispatch arrays the decoder indexes by mnemonic. docs/cpu.md's instruction list is Describe()'s text (a test
// compares them).
public sealed unsafe partial class InterpreterCpu
{
    // Field initializers run in text order within a file: these come before the table, which the group rows use.
    private static readonly int MnemonicCount = Enum.GetValues<Mnemonic>().Length + 1;

    private static readonly CpuModes[] ModeSlots = [CpuModes.Legacy, CpuModes.Long, CpuModes.LongWide];

    private static readonly Mnemonic[] JccMnemonics =
    [
        Mnemonic.Jo, Mnemonic.Jno, Mnemonic.Jb, Mnemonic.Jae, Mnemonic.Je, Mnemonic.Jne, Mnemonic.Jbe, Mnemonic.Ja,
        Mnemonic.Js, Mnemonic.Jns, Mnemonic.Jp, Mnemonic.Jnp, Mnemonic.Jl, Mnemonic.Jge, Mnemonic.Jle, Mnemonic.Jg,
    ];
    private static readonly Mnemonic[] SetccMnemonics =
    [
        Mnemonic.Seto, Mnemonic.Setno, Mnemonic.Setb, Mnemonic.Setae, Mnemonic.Sete, Mnemonic.Setne, Mnemonic.Setbe,
        Mnemonic.Seta, Mnemonic.Sets, Mnemonic.Setns, Mnemonic.Setp, Mnemonic.Setnp, Mnemonic.Setl, Mnemonic.Setge,
        Mnemonic.Setle, Mnemonic.Setg,
    ];
    private static readonly Mnemonic[] CmovMnemonics =
    [
        Mnemonic.Cmovo, Mnemonic.Cmovno, Mnemonic.Cmovb, Mnemonic.Cmovae, Mnemonic.Cmove, Mnemonic.Cmovne,
        Mnemonic.Cmovbe, Mnemonic.Cmova, Mnemonic.Cmovs, Mnemonic.Cmovns, Mnemonic.Cmovp, Mnemonic.Cmovnp,
        Mnemonic.Cmovl, Mnemonic.Cmovge, Mnemonic.Cmovle, Mnemonic.Cmovg,
    ];

    /// <summary>The groups, in the order docs/cpu.md lists them.</summary>
    private static IEnumerable<(string Group, OpcodeRow[] Rows)> OpcodeGroups() =>
    [
        ("DataTransfer.cs", DataTransferOps()), ("Arithmetic.cs", ArithmeticOps()), ("Logical.cs", LogicalOps()),
        ("Shift.cs", ShiftOps()), ("Bit.cs", BitOps()), ("Bcd.cs", BcdOps()), ("Stack.cs", StackOps()),
        ("ControlFlow.cs", ControlFlowOps()), ("String.cs", StringOps()), ("IoPorts.cs", IoOps()),
        ("Flags.cs", FlagOps()), ("Interrupts.cs", InterruptOps()), ("SystemOps.cs", SystemOps()),
        ("Cpuid.cs", IdentityOps()), ("Msr.cs", ModelSpecificOps()), ("Dispatch.cs", HintAndInvalidOps()),
        ("LongMode.cs", LongModeOps()), ("Alu64.cs", Alu64Ops()), ("String64.cs", String64Ops()),
        ("Syscall.cs", SyscallOps()), ("LongInterrupts.cs", LongInterruptOps()), ("X87Control.cs", X87ControlOps()), ("X87Transfer.cs", X87TransferOps()),
        ("X87Arithmetic.cs", X87ArithmeticOps()), ("Sse.cs", SseOps()), ("SseMove.cs", SseMoveOps()),
        ("SseInteger.cs", SseIntegerOps()), ("SseFloat.cs", SseFloatOps()),
    ];

    /// <summary>Every row, in group order.</summary>
    internal static readonly OpcodeRow[] Opcodes = OpcodeGroups().SelectMany(g => g.Rows.Select(r => r.In(g.Group))).ToArray();

    /// <summary>Handlers by (mode slot, mnemonic): slot 0 the 16/32-bit decoder, 1 and 2 64-bit mode (narrow, wide operands).</summary>
    private static readonly delegate*<InterpreterCpu, ref DecodedOp, void>[] DispatchByMnemonic =
        new delegate*<InterpreterCpu, ref DecodedOp, void>[3 * MnemonicCount];
    /// <summary>The rows that name one encoding, which win over their mnemonic's row.</summary>
    private static readonly Dictionary<(Code, int), nint> DispatchByCode = BuildDispatch(Opcodes, DispatchByMnemonic);

    /// <summary>Fills <paramref name="byMnemonic"/> and returns the rows for one encoding; two rows for one slot are an error naming both groups.</summary>
    internal static Dictionary<(Code, int), nint> BuildDispatch(OpcodeRow[] rows, delegate*<InterpreterCpu, ref DecodedOp, void>[] byMnemonic)
    {
        var byCode = new Dictionary<(Code, int), nint>();
        var owner = new Dictionary<(Mnemonic, Code, int), string>();
        foreach (var row in rows)
            for (int slot = 0; slot < ModeSlots.Length; slot++)
            {
                if ((row.Modes & ModeSlots[slot]) == 0) continue;
                if (!owner.TryAdd((row.Mnemonic, row.Code, slot), row.Group))
                    throw new InvalidOperationException(
                        $"opcode table: {row.Mnemonic}{(row.Code == Code.INVALID ? "" : $" ({row.Code})")} in mode {ModeSlots[slot]} has rows in both {owner[(row.Mnemonic, row.Code, slot)]} and {row.Group}");
                if (row.Code != Code.INVALID) byCode[(row.Code, slot)] = (nint)row.Handler;
                else byMnemonic[slot * MnemonicCount + (int)row.Mnemonic] = row.Handler;
            }
        return byCode;
    }

    /// <summary>The handler of <paramref name="i"/> in one mode slot, or null when the table has none.</summary>
    private static delegate*<InterpreterCpu, ref DecodedOp, void> Dispatch(in Instruction i, CpuModes mode)
    {
        int slot = mode switch { CpuModes.Legacy => 0, CpuModes.Long => 1, _ => 2 };
        if (DispatchByCode.Count != 0 && DispatchByCode.TryGetValue((i.Code, slot), out var h))
            return (delegate*<InterpreterCpu, ref DecodedOp, void>)h;
        return DispatchByMnemonic[slot * MnemonicCount + (int)i.Mnemonic];
    }

    private static OpcodeRow Op(Mnemonic m, delegate*<InterpreterCpu, ref DecodedOp, void> handler, CpuModes modes = CpuModes.Legacy) =>
        new(m, Code.INVALID, modes, handler);

    private static OpcodeRow OpCode(Code code, delegate*<InterpreterCpu, ref DecodedOp, void> handler, CpuModes modes) =>
        new(code.Mnemonic(), code, modes, handler);

    private static IEnumerable<OpcodeRow> Ops(Mnemonic[] mnemonics, delegate*<InterpreterCpu, ref DecodedOp, void> handler,
        CpuModes modes = CpuModes.Legacy)
    {
        var rows = new OpcodeRow[mnemonics.Length];
        for (int n = 0; n < rows.Length; n++) rows[n] = Op(mnemonics[n], handler, modes);
        return rows;
    }

    /// <summary>
    /// The legacy-encoded forms a row covers, with their operands as the SDM writes them, the modes the row and the
    /// encoding share, the flags read and written (undefined ones count as written: the handler leaves some value)
    /// and whether LOCK is allowed.
    /// </summary>
    internal static IEnumerable<OpcodeEncoding> Encodings(OpcodeRow row)
    {
        var codes = row.Code != Code.INVALID ? [row.Code] : CodesOf(row.Mnemonic).Where(c => !Opcodes.Any(r => r.Code == c));
        foreach (var code in codes)
        {
            var info = code.ToOpCode();
            if (info.Encoding != EncodingKind.Legacy) continue;
            var modes = row.Modes;
            if (!info.Mode64) modes &= ~CpuModes.Long64;
            if (!info.Mode16 && !info.Mode32) modes &= ~CpuModes.Legacy;
            if (modes == 0) continue;
            var flagsCode = row.FlagsOf == row.Mnemonic ? code : SameFormOf(code, row.FlagsOf);
            var flags = new Instruction { Code = flagsCode };
            // Iced gives a shift or rotate by imm8 the flags of its count, and a count of 0 changes none: ask for a
            // count of 2 (one changes the same flags, OF defined).
            for (int n = 0; n < info.OpCount; n++)
                if (info.GetOpKind(n) == OpCodeOperandKind.imm8)
                {
                    flags.SetOpKind(n, OpKind.Immediate8);
                    flags.Immediate8 = 2;
                }
            yield return new OpcodeEncoding(code, info.ToInstructionString(), modes, flags.RflagsRead, flags.RflagsModified,
                info.CanUseLockPrefix);
        }
    }

    private static readonly Lazy<Dictionary<Code, (RflagsBits Read, RflagsBits Written)>> FlagsByCode = new(() =>
        Opcodes.SelectMany(Encodings).GroupBy(e => e.Code).ToDictionary(g => g.Key, g => (g.First().FlagsRead, g.First().FlagsWritten)));

    /// <summary>The flags an encoding reads and writes, as the table gives them (none for an encoding it has no row for).</summary>
    internal static (RflagsBits Read, RflagsBits Written) OpcodeFlags(Code code) =>
        FlagsByCode.Value.TryGetValue(code, out var flags) ? flags : (RflagsBits.None, RflagsBits.None);

    private static ILookup<Mnemonic, Code>? _codesByMnemonic;

    private static IEnumerable<Code> CodesOf(Mnemonic m) =>
        (_codesByMnemonic ??= Enum.GetValues<Code>().ToLookup(c => c.Mnemonic()))[m];

    /// <summary>The encoding of <paramref name="m"/> with the operands of <paramref name="code"/> (TZCNT r32, r/m32 → BSF r32, r/m32).</summary>
    private static Code SameFormOf(Code code, Mnemonic m)
    {
        string operands = code.ToString()[code.ToString().IndexOf('_')..];
        return CodesOf(m).FirstOrDefault(c => c.ToString().EndsWith(operands, StringComparison.Ordinal), CodesOf(m).First());
    }

    /// <summary>
    /// The instruction list of docs/cpu.md: per group file, the mnemonics its rows run in each mode (a row for one
    /// encoding is shown with its operands).
    /// </summary>
    internal static string DescribeOpcodes()
    {
        var text = new StringBuilder();
        text.AppendLine("| file | 16/32-bit modes | 64-bit mode, 8/16/32-bit operands | 64-bit mode, 64-bit operands |");
        text.AppendLine("|---|---|---|---|");
        foreach (var group in Opcodes.GroupBy(r => r.Group))
        {
            string Column(CpuModes mode) => string.Join(" ", group.Where(r => (r.Modes & mode) != 0).Select(Name).Distinct());
            text.AppendLine($"| {group.Key} | {Column(CpuModes.Legacy)} | {Column(CpuModes.Long)} | {Column(CpuModes.LongWide)} |");
        }
        return text.ToString();

        static string Name(OpcodeRow r) => r.Code == Code.INVALID
            ? r.Mnemonic.ToString().ToUpperInvariant()
            : $"`{r.Code.ToOpCode().ToInstructionString()}`";
    }
}
