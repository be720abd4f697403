using System.Collections.Concurrent;
using VirtShell.Cpu.Interpreter;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;

namespace VirtShell.Conformance;

public enum SuiteCpu { I8086, I80286 }

public sealed record OpcodeResult(string File, int Passed, int Failed, int Skipped, IReadOnlyList<string> Failures, IReadOnlyDictionary<string, int> SkipsByRule);

public sealed record SuiteResult(string Name, int Passed, int Failed, int Skipped, IReadOnlyList<OpcodeResult> Files);

/// <summary>
/// Runs one SingleStepTests suite (8086 or 80286 real mode) against <see cref="InterpreterCpu"/>: loads each test's
/// registers and RAM, executes, and compares registers and RAM with undefined flags masked as metadata.json says.
/// Tests that exercise behaviour a 386 does not share are skipped by the exact rules in <see cref="Exclusions"/>.
/// </summary>
public sealed class SingleStepSuite
{
    private const int MaxFailuresKept = 5;
    /// <summary>The flag bits both CPUs define; bits 12-15 read as 1 on the 8086 and 0 on the 80286 in real mode.</summary>
    private const int ComparedFlags = 0x0FD5;

    private readonly string _dir;
    private readonly SuiteCpu _cpu;
    private readonly SuiteMetadata _metadata;
    private readonly HashSet<string> _revoked = new(StringComparer.OrdinalIgnoreCase);

    public string Name => _cpu == SuiteCpu.I8086 ? "singlestep-8086" : "singlestep-80286";

    public SingleStepSuite(string suiteDir, SuiteCpu cpu)
    {
        if (!Directory.Exists(suiteDir)) throw new DirectoryNotFoundException($"SingleStepTests directory not found: {suiteDir}");
        _dir = suiteDir;
        _cpu = cpu;
        string meta = Path.Combine(suiteDir, "metadata.json");
        if (!File.Exists(meta)) throw new FileNotFoundException($"{suiteDir}: metadata.json is missing", meta);
        _metadata = new SuiteMetadata(meta);
        string revocations = Path.Combine(suiteDir, "revocation_list.txt");
        if (File.Exists(revocations))
            foreach (var line in File.ReadLines(revocations))
                if (line.Trim() is { Length: > 0 } h && !h.StartsWith('#')) _revoked.Add(h);
    }

    /// <summary>
    /// The data directory: <paramref name="explicitDir"/>, else VIRTSHELL_SINGLESTEP_DIR, else shared/testdata/singlestep
    /// found by walking up from the current directory and from the application's base directory.
    /// </summary>
    public static string? FindDataDirectory(string? explicitDir = null) =>
        TestData.Find(explicitDir, "VIRTSHELL_SINGLESTEP_DIR", "singlestep", "8086");

    public IEnumerable<string> TestFiles() =>
        Directory.EnumerateFiles(_dir, "*.json.gz").OrderBy(f => f, StringComparer.Ordinal);

    public SuiteResult Run(int parallelism = 2, Func<string, bool>? fileFilter = null, CpuTier tier = CpuTier.Interpreter)
    {
        var files = TestFiles().Where(f => fileFilter?.Invoke(FileKey(f)) ?? true).ToList();
        var results = new ConcurrentBag<OpcodeResult>();
        var queue = new ConcurrentQueue<string>(files);
        var workers = Enumerable.Range(0, Math.Max(1, parallelism)).Select(_ => Task.Run(() =>
        {
            using var harness = new Harness(_cpu, tier);
            while (queue.TryDequeue(out var file)) results.Add(RunFile(harness, file));
        })).ToArray();
        Task.WaitAll(workers);
        var ordered = results.OrderBy(r => r.File, StringComparer.Ordinal).ToList();
        return new SuiteResult(Name, ordered.Sum(r => r.Passed), ordered.Sum(r => r.Failed), ordered.Sum(r => r.Skipped), ordered);
    }

    private static string FileKey(string path) => Path.GetFileName(path).Replace(".json.gz", "");

    private OpcodeResult RunFile(Harness harness, string path)
    {
        string file = FileKey(path);
        int passed = 0, failed = 0, skipped = 0;
        var failures = new List<string>();
        var skips = new Dictionary<string, int>();
        foreach (var test in SingleStepTest.Load(path))
        {
            var info = new TestInfo(file, test, Decode(file, test.Bytes));
            if (_revoked.Contains(test.Hash))
            {
                skipped++;
                skips["revoked"] = skips.GetValueOrDefault("revoked") + 1;
                continue;
            }
            var rule = Exclusions.Before(_cpu, info, _metadata);
            if (rule != null)
            {
                skipped++;
                skips[rule.Id] = skips.GetValueOrDefault(rule.Id) + 1;
                continue;
            }
            string? error = harness.Execute(test, info, _metadata);
            if (error == null) { passed++; continue; }
            rule = Exclusions.After(_cpu, info, harness.FirstException);
            if (rule != null)
            {
                skipped++;
                skips[rule.Id] = skips.GetValueOrDefault(rule.Id) + 1;
                continue;
            }
            failed++;
            if (failures.Count < MaxFailuresKept) failures.Add($"#{test.Index} {test.Name} [{Convert.ToHexString(test.Bytes)}]: {error}");
        }
        return new OpcodeResult(file, passed, failed, skipped, failures, skips);
    }

    /// <summary>Finds the opcode key ("F6", "0F01"), ModR/M byte and prefixes of a test's instruction.</summary>
    private static OpcodeBytes Decode(string file, byte[] bytes)
    {
        int i = 0;
        var prefixes = new List<byte>();
        while (i < bytes.Length - 1 && bytes[i] is 0x26 or 0x2E or 0x36 or 0x3E or 0xF0 or 0xF1 or 0xF2 or 0xF3
               && !file.StartsWith(bytes[i].ToString("X2"), StringComparison.Ordinal))
            prefixes.Add(bytes[i++]);
        string key = bytes[i].ToString("X2");
        int modrmAt = i + 1;
        if (bytes[i] == 0x0F && i + 1 < bytes.Length)
        {
            key = "0F" + bytes[i + 1].ToString("X2");
            modrmAt = i + 2;
        }
        int modrm = modrmAt < bytes.Length ? bytes[modrmAt] : 0;
        return new OpcodeBytes(key, modrm, prefixes);
    }

    /// <summary>One CPU and 16 MiB of RAM, reused for every test of a worker.</summary>
    private sealed class Harness : IDisposable
    {
        private readonly GuestMemory _memory = new();
        private readonly InterpreterCpu _cpu;
        private readonly SuiteCpu _kind;
        private readonly uint _wrap;

        /// <summary>The first exception the CPU raised in the last test (a wrong guess lands in garbage that may raise more).</summary>
        public int FirstException { get; private set; } = -1;

        public Harness(SuiteCpu kind, CpuTier tier)
        {
            _kind = kind;
            _memory.AddRam(0, 16 << 20);
            // The suites were recorded on an 8086 and an 80286 with no coprocessor: their D8-DF escapes do nothing.
            // On the translator every step runs its instruction compiled (InterpreterCpu.StepInstruction).
            _cpu = new InterpreterCpu(_memory, new IoPortBus(), new MmioBus(), null) { FpuPresent = false, Tier = tier };
            _wrap = kind == SuiteCpu.I8086 ? 0xFFFFFu : 0xFFFFFFu;
            _cpu.AddressMask = _wrap;
        }

        public string? Execute(SingleStepTest t, TestInfo info, SuiteMetadata meta)
        {
            var r = t.InitialRegs;
            var s = CpuState.RealMode((ushort)r["cs"], (ushort)r["ip"]);
            s.Rax = (ushort)r["ax"]; s.Rbx = (ushort)r["bx"]; s.Rcx = (ushort)r["cx"]; s.Rdx = (ushort)r["dx"];
            s.Rsp = (ushort)r["sp"]; s.Rbp = (ushort)r["bp"]; s.Rsi = (ushort)r["si"]; s.Rdi = (ushort)r["di"];
            s.Ss = SegmentState.Real((ushort)r["ss"]); s.Ds = SegmentState.Real((ushort)r["ds"]); s.Es = SegmentState.Real((ushort)r["es"]);
            // IOPL/NT (and the 8086's always-one bits 12-15) cannot be set in real mode on the CPUs under test.
            s.Rflags = (ulong)(r["flags"] & 0x0FFF) | 2;
            foreach (var (addr, value) in t.InitialRam) _memory.Write(addr & _wrap, [value]);
            _cpu.SetState(s);
            _cpu.LastException = -1;
            FirstException = -1;

            if (_kind == SuiteCpu.I8086)
            {
                var exit = _cpu.StepInstruction();
                FirstException = _cpu.LastException;
                if (exit != null && exit.Reason != CpuExitReason.Halted) return $"{exit.Reason}: {exit.Detail}";
            }
            else
            {
                int steps = 0;
                while (true)
                {
                    var exit = _cpu.StepInstruction();
                    if (FirstException < 0) FirstException = _cpu.LastException;
                    if (exit?.Reason == CpuExitReason.Halted) break;
                    if (exit != null) return $"{exit.Reason}: {exit.Detail}";
                    if (++steps > 64) return "did not reach HLT within 64 instructions";
                }
            }
            return Compare(t, info, meta);
        }

        private string? Compare(SingleStepTest t, TestInfo info, SuiteMetadata meta)
        {
            var st = _cpu.GetState();
            int flagsMask = meta.FlagsMask(info.Op.Key, info.Op.Reg) & ComparedFlags;
            var errors = new List<string>();
            foreach (var name in RegisterSet.Names)
            {
                int actual = name switch
                {
                    "ax" => (int)(st.Rax & 0xFFFF), "bx" => (int)(st.Rbx & 0xFFFF), "cx" => (int)(st.Rcx & 0xFFFF),
                    "dx" => (int)(st.Rdx & 0xFFFF), "sp" => (int)(st.Rsp & 0xFFFF), "bp" => (int)(st.Rbp & 0xFFFF),
                    "si" => (int)(st.Rsi & 0xFFFF), "di" => (int)(st.Rdi & 0xFFFF), "ip" => (int)(st.Rip & 0xFFFF),
                    "cs" => st.Cs.Selector, "ss" => st.Ss.Selector, "ds" => st.Ds.Selector, "es" => st.Es.Selector,
                    _ => (int)(st.Rflags & 0xFFFF),
                };
                int expected = t.ExpectedReg(name);
                if (name == "flags") { actual &= flagsMask; expected &= flagsMask; }
                if (actual != expected) errors.Add($"{name} expected {expected:x4} got {actual:x4}");
            }
            uint? flagAddress = PushedFlagsAddress(t, info);
            foreach (var (addr, value) in t.FinalRam)
            {
                uint a = addr & _wrap;
                int actual = _memory.Read(a, 1)[0];
                int expected = value;
                if (flagAddress is { } fa)
                {
                    int m = a == (fa & _wrap) ? flagsMask & 0xFF : a == ((fa + 1) & _wrap) ? (flagsMask >> 8) & 0xFF : 0xFF;
                    actual &= m;
                    expected &= m;
                }
                if (actual != expected) errors.Add($"ram[{a:x5}] expected {expected:x2} got {actual:x2}");
            }
            return errors.Count == 0 ? null : string.Join("; ", errors);
        }

        /// <summary>
        /// Where the test pushed FLAGS: an interrupt frame (IP, CS, FLAGS) puts it at the final SS:SP+4, PUSHF at SS:SP.
        /// The 80286 files' flag_address is one too low when SP is odd, so it only says that an exception was taken;
        /// the 8086 files have none, so their INT/INT3/INTO/divide-error frames are recognised by the 6-byte push.
        /// </summary>
        private uint? PushedFlagsAddress(SingleStepTest t, TestInfo info)
        {
            uint ss = (uint)t.ExpectedReg("ss"), sp = (uint)t.ExpectedReg("sp");
            if (t.FlagAddress != null) return (ss << 4) + ((sp + 4) & 0xFFFF);
            if (_kind != SuiteCpu.I8086) return null;
            if (info.Op.Key == "9C") return (ss << 4) + sp;
            bool interrupt = info.Op.Key is "CC" or "CD" or "CE" or "D4" || info.File is "F6.6" or "F6.7" or "F7.6" or "F7.7";
            if (interrupt && ((uint)t.InitialRegs["sp"] - sp & 0xFFFF) == 6) return (ss << 4) + ((sp + 4) & 0xFFFF);
            return null;
        }

        public void Dispose()
        {
            _cpu.Dispose();
            _memory.Dispose();
        }
    }
}

/// <summary>The opcode key, ModR/M byte and prefixes of a test's instruction.</summary>
public sealed record OpcodeBytes(string Key, int ModRm, IReadOnlyList<byte> Prefixes)
{
    public int Reg => (ModRm >> 3) & 7;
    public int Mod => ModRm >> 6;
}

public sealed record TestInfo(string File, SingleStepTest Test, OpcodeBytes Op);
