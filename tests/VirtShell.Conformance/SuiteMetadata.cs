using System.Text.Json;

namespace VirtShell.Conformance;

/// <summary>metadata.json of a suite: per opcode (and ModR/M reg) the status and the mask of undefined flags.</summary>
public sealed class SuiteMetadata
{
    private readonly Dictionary<string, JsonElement> _opcodes = new(StringComparer.OrdinalIgnoreCase);
    private readonly JsonDocument _doc;

    public SuiteMetadata(string path)
    {
        try
        {
            _doc = JsonDocument.Parse(File.ReadAllText(path));
            foreach (var p in _doc.RootElement.GetProperty("opcodes").EnumerateObject()) _opcodes[p.Name] = p.Value;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid metadata: {e.Message}", e);
        }
    }

    /// <summary>The entry for an opcode key ("F6", "0F01") refined by the ModR/M reg field when the opcode is a group.</summary>
    private JsonElement? Entry(string key, int reg)
    {
        if (!_opcodes.TryGetValue(key, out var e)) return null;
        if (e.TryGetProperty("reg", out var regs) && regs.TryGetProperty(reg.ToString(), out var r)) return r;
        return e;
    }

    public string Status(string key, int reg) =>
        Entry(key, reg) is { } e && e.TryGetProperty("status", out var s) ? s.GetString() ?? "normal" : "normal";

    /// <summary>The AND mask hiding undefined flags (0xFFFF when all are defined).</summary>
    public ushort FlagsMask(string key, int reg) =>
        Entry(key, reg) is { } e && e.TryGetProperty("flags-mask", out var m) ? (ushort)m.GetInt32() : (ushort)0xFFFF;
}
