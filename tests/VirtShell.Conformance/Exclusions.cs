namespace VirtShell.Conformance;

/// <summary>One exclusion: which suite, an id, why, and the exact condition. docs/conformance.md lists the same table.</summary>
public sealed record ExclusionRule(string Id, SuiteCpu Cpu, string Reason, Func<TestInfo, SuiteMetadata, bool> Applies);

/// <summary>
/// Behaviour of the 8086 or 80286 that a 386 and later do not share, so an interpreter of a 386-class CPU must not
/// match it. Everything else in the suites must pass.
/// </summary>
public static class Exclusions
{
    private static bool File(TestInfo t, params string[] files) => files.Contains(t.File);
    private static bool Key(TestInfo t, params string[] keys) => keys.Contains(t.Op.Key);

    public static readonly IReadOnlyList<ExclusionRule> Rules =
    [
        new("8086-pop-cs", SuiteCpu.I8086, "0F is POP CS on the 8086; from the 80286 on it is the two-byte opcode escape",
            (t, _) => File(t, "0F")),
        new("8086-jcc-aliases", SuiteCpu.I8086, "60-6F alias the Jcc opcodes 70-7F on the 8086; the 80186+ define PUSHA/POPA/BOUND/ARPL/PUSH imm/IMUL imm/INS/OUTS there (and 64-67 are prefixes on the 386)",
            (t, _) => t.Op.Key.Length == 2 && t.Op.Key[0] == '6'),
        new("8086-ret-aliases", SuiteCpu.I8086, "C0, C1, C8, C9 alias RET/RETF on the 8086; the 80186+ define shift-by-immediate, ENTER and LEAVE there",
            (t, _) => Key(t, "C0", "C1", "C8", "C9")),
        new("8086-push-sp", SuiteCpu.I8086, "PUSH SP on the 8086 pushes the decremented SP; the 80286+ push the value before the push",
            (t, _) => Key(t, "54")),
        new("8086-setmo", SuiteCpu.I8086, "D0-D3 /6 is the undocumented SETMO/SETMOC on the 8086; on the 386 it is an alias of SHL",
            (t, _) => Key(t, "D0", "D1", "D2", "D3") && t.Op.Reg == 6),
        new("8086-unmasked-shift-count", SuiteCpu.I8086, "the 8086 uses the whole CL as shift/rotate count; the 80286+ mask it to 5 bits (only CL >= 32 differs)",
            (t, _) => Key(t, "D2", "D3") && (t.Test.InitialRegs["cx"] & 0xFF) >= 32),
        new("8086-rep-muldiv", SuiteCpu.I8086, "a REP prefix on MUL/IMUL/DIV/IDIV negates the result on the 8086 (microcode quirk); later CPUs ignore it",
            (t, _) => Key(t, "F6", "F7") && t.Op.Reg >= 4 && t.Op.Prefixes.Any(p => p is 0xF2 or 0xF3)),
        new("8086-divide-error-ip", SuiteCpu.I8086, "on a divide error the 8086 pushes the address of the next instruction, the 80286+ the address of the divide (and the 8086 faults on quotients 80h/8000h which the 80286+ accept)",
            (t, _) => (Key(t, "D4") || (Key(t, "F6", "F7") && t.Op.Reg >= 6)) && t.Test.ExpectedReg("cs") == 0 && t.Test.FinalRegs.ContainsKey("ip")
                      && t.Test.ExpectedReg("sp") == ((t.Test.InitialRegs["sp"] - 6) & 0xFFFF)),
        new("8086-register-far-pointer", SuiteCpu.I8086, "LDS/LES/LEA and CALL/JMP far with a register operand (mod=11) use stale bus values on the 8086; the 80286+ raise #UD",
            (t, _) => (Key(t, "C4", "C5", "8D") || (Key(t, "FF") && t.Op.Reg is 3 or 5)) && t.Op.Mod == 3),
        new("8086-segment-register-aliases", SuiteCpu.I8086, "MOV to/from segment register with reg 4-7 aliases ES-DS on the 8086, and MOV CS (8E /1) loads CS; on the 386 these are FS/GS or #UD",
            (t, _) => (Key(t, "8C") && t.Op.Reg >= 4) || (Key(t, "8E") && (t.Op.Reg >= 4 || t.Op.Reg == 1))),
        new("undefined-encodings", SuiteCpu.I8086, "encodings metadata.json marks undefined or alias (8F/C6/C7 with reg != 0, FE /2-7, FF /7): the 8086 executes something, the 386 raises #UD",
            (t, m) => m.Status(t.Op.Key, t.Op.Reg) == "undefined" || (Key(t, "FF") && t.Op.Reg == 7)),
        new("undefined-encodings-286", SuiteCpu.I80286, "encodings metadata.json marks undefined (8F/C6/C7 with reg != 0, FE /2-7, 0F00 /6-7, 0F01 /5,7) or the FF /7 alias: the 80286 executes something, the 386 raises #UD",
            (t, m) => m.Status(t.Op.Key, t.Op.Reg) == "undefined" || (Key(t, "FF") && t.Op.Reg == 7)),
        new("286-prefixes-64-67", SuiteCpu.I80286, "64-67 are undefined opcodes on the 80286; on the 386 they are the FS/GS segment and operand/address-size prefixes",
            (t, _) => Key(t, "64", "65", "66", "67")),
    ];

    /// <summary>The rule that excludes a test by its content, or null.</summary>
    public static ExclusionRule? Before(SuiteCpu cpu, TestInfo t, SuiteMetadata meta) =>
        Rules.FirstOrDefault(r => r.Cpu == cpu && r.Applies(t, meta));

    /// <summary>
    /// Rules that depend on what the CPU did: an 8086 word access at offset FFFF wraps inside the segment, where the
    /// 80286+ raise #GP/#SS (exception 13/12) — the 8086 has no such exceptions, so raising one identifies the case.
    /// </summary>
    public static ExclusionRule? After(SuiteCpu cpu, TestInfo t, int lastException) =>
        cpu == SuiteCpu.I8086 && lastException is 12 or 13 ? SegmentWrap : null;

    public static readonly ExclusionRule SegmentWrap = new("8086-segment-wrap", SuiteCpu.I8086,
        "a word access at offset FFFF wraps to offset 0 of the segment on the 8086; the 80286+ raise #GP/#SS (identified by the CPU raising exception 12 or 13, which the 8086 does not have)",
        (_, _) => false);
}
