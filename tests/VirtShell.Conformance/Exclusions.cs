namespace VirtShell.Conformance;

/// <summary>One exclusion: which suite, an id, why, and the exact condition. docs/conformance.md lists the same table.</summary>
public sealed record ExclusionRule(string Id, SuiteCpu Cpu, string Reason, Func<TestInfo, SuiteMetadata, bool> Applies);

/// <summary>
/// Behaviour of the 8086 or 80286 that a 386 and later do not share, so an interpreter of a 386-class CPU must not
/// match it. Everything else in the suites must pass.
/// </summary>
public static class Exclusions
{
    private static bool Key(TestInfo t, params string[] keys) => keys.Contains(t.Op.Key);

    public static readonly IReadOnlyList<ExclusionRule> Rules =
    [
        new("8086-jcc-aliases", SuiteCpu.I8086, "60-6F alias the Jcc opcodes 70-7F on the 8086; the 80186+ define PUSHA/POPA/BOUND/ARPL/PUSH imm/IMUL imm/INS/OUTS there (and 64-67 are prefixes on the 386)",
            (t, _) => t.Op.Key.Length == 2 && t.Op.Key[0] == '6'),
        new("8086-ret-aliases", SuiteCpu.I8086, "C0, C1, C8, C9 alias RET/RETF on the 8086; the 80186+ define shift-by-immediate, ENTER and LEAVE there",
            (t, _) => Key(t, "C0", "C1", "C8", "C9")),
        new("8086-push-sp", SuiteCpu.I8086, "PUSH SP (54, and FF /6 with SP as operand) on the 8086 pushes the decremented SP; the 80286+ push the value before the push",
            (t, _) => Key(t, "54") || (Key(t, "FF") && t.Op.ModRm == 0xF4)),
        new("8086-setmo", SuiteCpu.I8086, "D0-D3 /6 is the undocumented SETMO/SETMOC on the 8086; on the 386 it is an alias of SHL",
            (t, _) => Key(t, "D0", "D1", "D2", "D3") && t.Op.Reg == 6),
        new("8086-unmasked-shift-count", SuiteCpu.I8086, "the 8086 uses the whole CL as shift/rotate count; the 80286+ mask it to 5 bits (only CL >= 32 differs)",
            (t, _) => Key(t, "D2", "D3") && (t.Test.InitialRegs["cx"] & 0xFF) >= 32),
        new("8086-rep-muldiv", SuiteCpu.I8086, "a REP prefix on MUL/IMUL/DIV/IDIV negates the result on the 8086 (microcode quirk); later CPUs ignore it",
            (t, _) => Key(t, "F6", "F7") && t.Op.Reg >= 4 && t.Op.Prefixes.Any(p => p is 0xF2 or 0xF3)),
        new("8086-divide-error-ip", SuiteCpu.I8086, "on a divide error the 8086 pushes the address of the next instruction, the 80286+ the address of the divide (and the 8086 faults on quotients 80h/8000h which the 80286+ accept)",
            (t, _) => (Key(t, "D4") || (Key(t, "F6", "F7") && t.Op.Reg >= 6)) && t.Test.ExpectedReg("cs") == 0 && t.Test.FinalRegs.ContainsKey("ip")
                      && t.Test.ExpectedReg("sp") == ((t.Test.InitialRegs["sp"] - 6) & 0xFFFF)),
        new("8086-segment-register-aliases", SuiteCpu.I8086, "MOV to/from segment register with reg 4-7 aliases ES-DS on the 8086, and MOV CS (8E /1) loads CS; on the 386 these are FS/GS or #UD",
            (t, _) => (Key(t, "8C") && t.Op.Reg >= 4) || (Key(t, "8E") && (t.Op.Reg >= 4 || t.Op.Reg == 1))),
        new("8086-daa-das", SuiteCpu.I8086, "8086 DAA/DAS test AL > 9F (not > 99) for the high adjustment when CF=0 and the low adjustment happened, and its DAS does not set CF from the low-nibble borrow; the 80286+ follow the documented algorithm (condition: CF=0 and AL in 9A-9F, or DAS with AF=1 and AL < 6)",
            (t, _) => Key(t, "27", "2F") && (t.Test.InitialRegs["flags"] & 1) == 0
                      && ((t.Test.InitialRegs["ax"] & 0xFF) is >= 0x9A and <= 0x9F
                          || (Key(t, "2F") && (t.Test.InitialRegs["flags"] & 0x10) != 0 && (t.Test.InitialRegs["ax"] & 0xFF) < 6))),
        new("8086-aaa-aas", SuiteCpu.I8086, "8086 AAA/AAS adjust AL and AH separately; the 80286+ add/subtract 6 on AX, so a carry out of AL (AAA, AL >= FA) or a borrow (AAS, AL < 6) also reaches AH (condition: the adjustment happens and AL is in that range)",
            (t, _) =>
            {
                int al = t.Test.InitialRegs["ax"] & 0xFF;
                bool adjust = (al & 0xF) > 9 || (t.Test.InitialRegs["flags"] & 0x10) != 0;
                return adjust && ((Key(t, "37") && al >= 0xFA) || (Key(t, "3F") && al < 6));
            }),
        new("8086-undefined-encodings", SuiteCpu.I8086, "encodings metadata.json marks undefined (8F/C6/C7 with reg != 0) or the FF /7 alias: the 8086 executes something, the 386 raises #UD",
            (t, m) => m.Status(t.Op.Key, t.Op.Reg) == "undefined" || (Key(t, "FF") && t.Op.Reg == 7)),
        new("286-undefined-encodings", SuiteCpu.I80286, "encodings metadata.json marks undefined (8F/C6/C7 with reg != 0) or the FF /7 alias: the 80286 executes something, the 386 raises #UD",
            (t, m) => m.Status(t.Op.Key, t.Op.Reg) == "undefined" || (Key(t, "FF") && t.Op.Reg == 7)),
        new("286-lock-invalid", SuiteCpu.I80286, LockReason, (t, _) => LockedInvalid(t)),
        new("286-fs-gs", SuiteCpu.I80286, "MOV to/from segment register with reg 4/5 is #UD on the 80286; the 386 has FS and GS there",
            (t, _) => Key(t, "8C", "8E") && t.Op.Reg is 4 or 5),
        new("286-instruction-length", SuiteCpu.I80286, "an instruction longer than 10 bytes (redundant prefixes) raises exception 13 on the 80286; the 386 allows 15 bytes (condition: more than 10 bytes before the HLT)",
            (t, _) => t.Test.Bytes.Length - 1 > 10),
    ];

    private const string LockReason =
        "LOCK on an instruction that cannot be locked (register destination, or not a read-modify-write) is ignored by the 80286; the 386 raises #UD (condition: LOCK prefix and Iced, decoding as a 386+, rejects the instruction)";

    /// <summary>The test has a LOCK prefix and a 386 decoder rejects the instruction because of it.</summary>
    private static bool LockedInvalid(TestInfo t)
    {
        if (!t.Op.Prefixes.Contains((byte)0xF0)) return false;
        var decoder = Iced.Intel.Decoder.Create(16, new Iced.Intel.ByteArrayCodeReader(t.Test.Bytes));
        decoder.Decode(out var instr);
        return instr.Code == Iced.Intel.Code.INVALID;
    }

    /// <summary>The rule that excludes a test by its content, or null.</summary>
    public static ExclusionRule? Before(SuiteCpu cpu, TestInfo t, SuiteMetadata meta) =>
        Rules.FirstOrDefault(r => r.Cpu == cpu && r.Applies(t, meta));

    /// <summary>All rules, for the documentation table.</summary>
    public static IEnumerable<ExclusionRule> All => Rules.Append(StackOverrun286).Append(StringOverrun286);

    /// <summary>Rules that depend on what the CPU did (the first exception it raised), for 80286 segment overruns.</summary>
    public static ExclusionRule? After(SuiteCpu cpu, TestInfo t, int lastException)
    {
        if (cpu != SuiteCpu.I80286) return null;
        if (t.Test.ExceptionNumber == 13 && lastException is 12 or 13 && IsString(t)) return StringOverrun286;
        if (t.Test.ExceptionNumber == 13 && lastException == 12) return StackOverrun286;
        return null;
    }

    private static bool IsString(TestInfo t) => Key(t, "6C", "6D", "6E", "6F", "A4", "A5", "A6", "A7", "AA", "AB", "AC", "AD", "AE", "AF");

    public static readonly ExclusionRule StackOverrun286 = new("286-stack-overrun-13", SuiteCpu.I80286,
        "a real-mode segment overrun through SS raises exception 13 on the 80286 but #SS (12) on the 386 (identified by the test expecting 13 where the CPU raised 12)",
        (_, _) => false);

    public static readonly ExclusionRule StringOverrun286 = new("286-string-overrun", SuiteCpu.I80286,
        "a string instruction that overruns offset FFFF with a word access has already advanced SI/DI (and CX) when the 80286 raises exception 13; the 386 faults before changing them (identified by the test expecting 13 where the CPU raised 12/13)",
        (_, _) => false);
}
