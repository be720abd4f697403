using System.IO.Compression;
using System.Text.Json;

namespace VirtShell.Conformance;

/// <summary>The 14 registers of a SingleStepTests state, in file order.</summary>
public sealed record RegisterSet(Dictionary<string, int> Values)
{
    public static readonly string[] Names = ["ax", "bx", "cx", "dx", "cs", "ss", "ds", "es", "sp", "bp", "si", "di", "ip", "flags"];
    public int this[string name] => Values[name];
}

/// <summary>One SingleStepTests case: the instruction bytes, the initial state and the expected final state.</summary>
public sealed class SingleStepTest
{
    public required int Index { get; init; }
    public required string Name { get; init; }
    public required byte[] Bytes { get; init; }
    public required Dictionary<string, int> InitialRegs { get; init; }
    public required List<(uint Address, byte Value)> InitialRam { get; init; }
    public required Dictionary<string, int> FinalRegs { get; init; }
    public required List<(uint Address, byte Value)> FinalRam { get; init; }
    public required string Hash { get; init; }
    /// <summary>80286 only: the exception the CPU took, and where it pushed FLAGS.</summary>
    public int? ExceptionNumber { get; init; }
    public uint? FlagAddress { get; init; }

    /// <summary>The expected value of a register after the test (unchanged registers are not listed in "final").</summary>
    public int ExpectedReg(string name) => FinalRegs.TryGetValue(name, out var v) ? v : InitialRegs[name];

    /// <summary>Reads a gzipped test file (a JSON array, one test per line); errors name the file and line.</summary>
    public static List<SingleStepTest> Load(string path)
    {
        var tests = new List<SingleStepTest>();
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        int lineNo = 0;
        string? line;
        while ((line = reader.ReadLine()) != null)
        {
            lineNo++;
            var t = line.Trim().TrimEnd(',');
            if (t.Length == 0 || t == "[" || t == "]") continue;
            if (t.StartsWith('[')) t = t[1..];
            if (t.EndsWith(']') && !t.EndsWith("]]")) t = t[..^1];
            try
            {
                tests.Add(Parse(t));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}:{lineNo}: not a SingleStepTests case: {e.Message}", e);
            }
        }
        return tests;
    }

    private static SingleStepTest Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var initial = root.GetProperty("initial");
        var final = root.GetProperty("final");
        int? exception = null;
        uint? flagAddress = null;
        if (root.TryGetProperty("exception", out var ex) && ex.ValueKind == JsonValueKind.Object)
        {
            exception = ex.GetProperty("number").GetInt32();
            flagAddress = ex.GetProperty("flag_address").GetUInt32();
        }
        return new SingleStepTest
        {
            Index = root.GetProperty("idx").GetInt32(),
            Name = root.GetProperty("name").GetString() ?? "",
            Bytes = root.GetProperty("bytes").EnumerateArray().Select(b => (byte)b.GetInt32()).ToArray(),
            InitialRegs = Regs(initial),
            InitialRam = Ram(initial),
            FinalRegs = Regs(final),
            FinalRam = Ram(final),
            Hash = root.TryGetProperty("hash", out var h) ? h.GetString() ?? "" : "",
            ExceptionNumber = exception,
            FlagAddress = flagAddress,
        };
    }

    private static Dictionary<string, int> Regs(JsonElement state)
    {
        var d = new Dictionary<string, int>();
        foreach (var p in state.GetProperty("regs").EnumerateObject()) d[p.Name] = p.Value.GetInt32();
        return d;
    }

    private static List<(uint, byte)> Ram(JsonElement state)
    {
        var list = new List<(uint, byte)>();
        foreach (var pair in state.GetProperty("ram").EnumerateArray())
            list.Add((pair[0].GetUInt32(), (byte)pair[1].GetInt32()));
        return list;
    }
}
