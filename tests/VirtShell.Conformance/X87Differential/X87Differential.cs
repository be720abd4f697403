using System.Buffers.Binary;
using System.Text;
using Iced.Intel;
using VirtShell.Engine.Cpu;

namespace VirtShell.Conformance.X87Differential;

/// <summary>The figures of a differential run and a report for each mismatching sequence (minimised).</summary>
public sealed record X87DifferentialResult(int Sequences, int Mismatches, int Instructions, IReadOnlyDictionary<string, int> Covered,
    int InterpreterOnly, int InternalErrors, IReadOnlyList<string> Reports)
{
    public override string ToString() =>
        $"x87-differential: {Sequences} sequences, {Mismatches} mismatches; {InterpreterOnly} interpreter-only, {InternalErrors} internal errors";
}

/// <summary>
/// The x87/integer differential fuzzer: random sequences (<see cref="SequenceGenerator"/>) run on the interpreter
/// and natively on the host CPU (<see cref="HostReference"/>), compared on the six test registers, the defined
/// arithmetic flags and DF, the x87 control, status and abridged tag words and all eight registers, and the data
/// buffer. FIP, FDP, FOP and the instruction pointer are not compared (where FNSTENV/FNSAVE store them, the
/// generator overwrites them at once). A run that ends in anything but the final
/// HLT is a mismatch too: an InternalError (which must name the instruction) or a fault the host did not take.
/// </summary>
public static class X87Differential
{
    /// <summary>Why no run is possible on this host, or null.</summary>
    public static string? Unavailable => HostReference.Unavailable;

    public static X87DifferentialResult Run(int count, int seed, int maxReports = 20)
    {
        if (Unavailable is { } why) throw new PlatformNotSupportedException(why);
        var generator = new SequenceGenerator(seed);
        using var host = new HostReference();
        using var subject = new InterpreterSubject();
        var reports = new List<string>();
        var covered = new SortedDictionary<string, int>();
        int mismatches = 0, instructions = 0;
        for (int n = 0; n < count; n++)
        {
            var c = generator.Next(n);
            foreach (var i in c.Code)
            {
                instructions++;
                string name = i.Mnemonic.ToString().ToLowerInvariant();
                covered[name] = covered.GetValueOrDefault(name) + 1;
            }
            if (Compare(c, host, subject) is null) continue;
            mismatches++;
            if (reports.Count < maxReports) reports.Add($"seed {seed} sequence {n}:\n" + Report(Minimise(c, host, subject), host, subject));
        }
        // Interpreter-only: transcendentals and unmasked exceptions, where any ending but an internal error is fine
        // (a fault without an IDT ends as a triple fault).
        var unchecked_ = new SequenceGenerator(seed, interpreterOnly: true);
        int only = count / 4, internalErrors = 0;
        for (int n = 0; n < only; n++)
        {
            var c = unchecked_.Next(n);
            string? failure;
            try
            {
                subject.Run(c, out var exit);
                failure = exit.Reason == CpuExitReason.InternalError ? exit.Detail : null;
            }
            catch (Exception e)
            {
                failure = $"a .NET exception escaped the interpreter: {e.GetType().Name}: {e.Message}";
            }
            if (failure == null) continue;
            internalErrors++;
            if (reports.Count < maxReports) reports.Add($"seed {seed} interpreter-only sequence {n}: {failure}\n" + Listing(c));
        }
        return new X87DifferentialResult(count, mismatches, instructions, covered, only, internalErrors, reports);
    }

    /// <summary>The differences between host and interpreter, or null when there are none.</summary>
    private static List<string>? Compare(FuzzCase c, HostReference host, InterpreterSubject subject)
    {
        FuzzOutcome? mine;
        CpuExit exit;
        try
        {
            mine = subject.Run(c, out exit);
        }
        catch (Exception e)
        {
            return [$"a .NET exception escaped the interpreter: {e.GetType().Name}: {e.Message}"];
        }
        if (mine == null)
        {
            // Never run natively what the interpreter did not finish: the generator means every sequence to run to its end.
            return exit.Reason == CpuExitReason.InternalError && !NamesInstruction(exit.Detail, c)
                ? [$"InternalError that names no instruction: {exit.Detail}"]
                : [$"interpreter ended with {exit.Reason}: {exit.Detail}"];
        }
        var theirs = host.Run(c);
        var diffs = new List<string>();
        string[] names = ["eax", "ecx", "edx", "ebx", "ebp", "esi"];
        for (int i = 0; i < names.Length; i++)
            if (mine.Gpr[i] != theirs.Gpr[i]) diffs.Add($"{names[i]}: host {theirs.Gpr[i]:x8}, interpreter {mine.Gpr[i]:x8}");
        uint compared = (SequenceGenerator.Arithmetic & ~c.UndefinedFlags) | 0x400;
        if (((mine.Flags ^ theirs.Flags) & compared) != 0)
            diffs.Add($"eflags (bits {compared:x3}): host {theirs.Flags & compared:x3}, interpreter {mine.Flags & compared:x3}");
        ushort Word(byte[] image, int at) => BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(at));
        foreach (var (name, at) in new[] { ("fcw", 0), ("fsw", 2) })
            if (Word(mine.Fxsave, at) != Word(theirs.Fxsave, at)) diffs.Add($"{name}: host {Word(theirs.Fxsave, at):x4}, interpreter {Word(mine.Fxsave, at):x4}");
        if (mine.Fxsave[4] != theirs.Fxsave[4]) diffs.Add($"abridged tag: host {theirs.Fxsave[4]:x2}, interpreter {mine.Fxsave[4]:x2}");
        for (int i = 0; i < 8; i++)
        {
            string h = Extended(theirs.Fxsave, 32 + 16 * i), m = Extended(mine.Fxsave, 32 + 16 * i);
            if (h != m) diffs.Add($"st{i}: host {h}, interpreter {m}");
        }
        for (int at = 0; at < FuzzCase.DataSize; at++)
        {
            if (mine.Data[at] == theirs.Data[at]) continue;
            int end = Math.Min(FuzzCase.DataSize, (at & ~7) + 16);
            diffs.Add($"data+{at & ~7:x2}: host {Convert.ToHexString(theirs.Data, at & ~7, end - (at & ~7))}, interpreter {Convert.ToHexString(mine.Data, at & ~7, end - (at & ~7))}");
            at = end - 1;
        }
        return diffs.Count == 0 ? null : diffs;
    }

    /// <summary>Whether an InternalError's text names one of the sequence's instructions (by mnemonic).</summary>
    private static bool NamesInstruction(string? detail, FuzzCase c) =>
        detail != null && c.Code.Any(i => detail.Contains(i.Mnemonic.ToString(), StringComparison.OrdinalIgnoreCase));

    private static string Extended(byte[] image, int at) =>
        $"{BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(at + 8)):x4}:{BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(at)):x16}";

    /// <summary>Drops units (an instruction and its guards) one at a time while the sequence still mismatches.</summary>
    private static FuzzCase Minimise(FuzzCase c, HostReference host, InterpreterSubject subject)
    {
        for (int i = c.Units.Count - 1; i >= 0 && c.Units.Count > 1; i--)
        {
            var units = new List<Instruction[]>(c.Units);
            units.RemoveAt(i);
            if (SequenceGenerator.UndefinedAfter(units) == null) continue;
            var shorter = c.WithUnits(units);
            if (Compare(shorter, host, subject) is { } d && !d[0].StartsWith("interpreter ended", StringComparison.Ordinal)) c = shorter;
        }
        return c;
    }

    private static string Listing(FuzzCase c)
    {
        var sb = new StringBuilder();
        var formatter = new NasmFormatter();
        var output = new StringOutput();
        foreach (var i in c.Code)
        {
            formatter.Format(i, output);
            sb.Append("    ").AppendLine(output.ToStringAndReset());
        }
        return sb.ToString();
    }

    private static string Report(FuzzCase c, HostReference host, InterpreterSubject subject)
    {
        var sb = new StringBuilder(Listing(c));
        var image = c.Fxsave;
        sb.Append($"  in: eax..esi {string.Join(' ', c.Gpr.Select(g => g.ToString("x8")))} flags {c.Flags:x3} fcw {BinaryPrimitives.ReadUInt16LittleEndian(image):x4} fsw {BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(2)):x4} tag {image[4]:x2}\n");
        sb.Append("  in st0..7: ").AppendLine(string.Join(' ', Enumerable.Range(0, 8).Select(i => Extended(image, 32 + 16 * i))));
        sb.Append("  in data: ").AppendLine(Convert.ToHexString(c.Data));
        foreach (var d in Compare(c, host, subject) ?? ["(no longer differs)"]) sb.Append("  ").AppendLine(d);
        return sb.ToString();
    }
}
