using System.Globalization;
using VirtShell.Engine.Definitions;

namespace VirtShell.Containers.Definition;

/// <summary>
/// Reads one object of a definition section (plain values from the loader), naming every value by its path
/// (<c>container.process.uid</c>) in errors, and rejecting keys nobody asked for.
/// </summary>
internal sealed class SectionReader
{
    private readonly IReadOnlyDictionary<string, object?> _values;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly SourceLocation? _source;

    public SectionReader(string path, IReadOnlyDictionary<string, object?> values, SourceLocation? source)
    {
        Path = path;
        _values = values;
        _source = source;
    }

    public string Path { get; }

    public static SectionReader From(string path, object? value, SourceLocation? source) => value switch
    {
        IReadOnlyDictionary<string, object?> d => new SectionReader(path, d, source),
        IDictionary<string, object?> d => new SectionReader(path, d.AsReadOnly(), source),
        _ => throw new DefinitionException($"{path} must be an object, not {Describe(value)}", source),
    };

    public DefinitionException Error(string key, string message) => new($"{Field(key)}: {message}", _source);
    public DefinitionException Error(string message) => new($"{Path}: {message}", _source);

    public string Field(string key) => $"{Path}.{key}";

    public bool Has(string key) => _values.TryGetValue(key, out var v) && v is not null;

    public object? Raw(string key)
    {
        _read.Add(key);
        return _values.TryGetValue(key, out var v) ? v : null;
    }

    public string? String(string key) => Raw(key) switch
    {
        null => null,
        string s => s,
        var v => throw Error(key, $"must be a string, not {Describe(v)}"),
    };

    public bool? Boolean(string key) => Raw(key) switch
    {
        null => null,
        bool b => b,
        var v => throw Error(key, $"must be true or false, not {Describe(v)}"),
    };

    public long? Integer(string key) => Raw(key) switch
    {
        null => null,
        int i => i,
        long l => l,
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e15 => (long)d,
        var v => throw Error(key, $"must be an integer, not {Describe(v)}"),
    };

    public long? Integer(string key, long min, long max)
    {
        long? value = Integer(key);
        if (value is { } v && (v < min || v > max))
            throw Error(key, $"{v} is out of range ({min} to {max})");
        return value;
    }

    public IReadOnlyList<object?>? List(string key) => Raw(key) switch
    {
        null => null,
        IReadOnlyList<object?> l => l,
        IList<object?> l => l.AsReadOnly(),
        var v => throw Error(key, $"must be an array, not {Describe(v)}"),
    };

    public IReadOnlyList<string>? Strings(string key)
    {
        var list = List(key);
        if (list == null) return null;
        return list.Select((v, i) => v as string ?? throw Error($"{key}[{i}]", $"must be a string, not {Describe(v)}")).ToList();
    }

    public SectionReader? Object(string key) => Has(key) ? From(Field(key), Raw(key), _source) : null;

    /// <summary>A size: a number of bytes, or a string like '64M' (K, M, G, T; powers of 1024).</summary>
    public ulong? Size(string key)
    {
        object? raw = Raw(key);
        switch (raw)
        {
            case null: return null;
            case long or int or double:
                long bytes = Integer(key) ?? 0;
                if (bytes <= 0) throw Error(key, $"must be positive, not {bytes}");
                return (ulong)bytes;
            case string s:
                return ParseSize(s) ?? throw Error(key, $"'{s}' is not a size (use bytes or a number with K, M, G or T)");
            default:
                throw Error(key, $"must be a size, not {Describe(raw)}");
        }
    }

    private static ulong? ParseSize(string text)
    {
        text = text.Trim();
        if (text.Length == 0) return null;
        ulong factor = char.ToUpperInvariant(text[^1]) switch
        {
            'K' => 1UL << 10, 'M' => 1UL << 20, 'G' => 1UL << 30, 'T' => 1UL << 40, _ => 1,
        };
        string digits = factor == 1 ? text : text[..^1];
        return ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n) && n > 0 && n <= ulong.MaxValue / factor
            ? n * factor : null;
    }

    /// <summary>Throws for the first key of the object that no reader asked for.</summary>
    public void RejectUnknown(IEnumerable<string> known)
    {
        foreach (var key in _values.Keys)
            if (!_read.Contains(key))
                throw Error(key, $"unknown setting (known here: {string.Join(", ", known)})");
    }

    public static string Describe(object? value) => value switch
    {
        null => "null",
        string s => $"'{s}'",
        bool b => b ? "true" : "false",
        IReadOnlyDictionary<string, object?> or IDictionary<string, object?> => "an object",
        System.Collections.IEnumerable => "an array",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? value.GetType().Name,
    };
}
