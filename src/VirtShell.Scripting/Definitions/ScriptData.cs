using System.Globalization;
using System.Numerics;
using System.Text.Json;

namespace VirtShell.Scripting.Definitions;

/// <summary>JavaScript's <c>undefined</c> in a snapshot: a value that is absent.</summary>
internal sealed class JsMissing
{
    public static readonly JsMissing Value = new();
    private JsMissing() { }
}

/// <summary>A JavaScript array, its elements copied.</summary>
internal sealed record JsArray(IReadOnlyList<object?> Items);

/// <summary>An array whose length is beyond what a definition may have (or is not a length at all); nothing was copied.</summary>
internal sealed record JsHugeArray(string Length);

/// <summary>A JavaScript object's own enumerable string-keyed properties, in their order.</summary>
internal sealed class JsObject(IReadOnlyList<KeyValuePair<string, object?>> entries)
{
    public IReadOnlyList<KeyValuePair<string, object?>> Entries { get; } = entries;

    public IEnumerable<string> Keys => Entries.Select(e => e.Key);

    /// <summary>The value of <paramref name="key"/>, or <see cref="JsMissing.Value"/> when there is none.</summary>
    public object? Get(string key)
    {
        foreach (var (k, v) in Entries)
            if (k == key) return v;
        return JsMissing.Value;
    }
}

/// <summary>A function the definition gave; the engine calls it by <see cref="Index"/>. <see cref="Source"/> is its text.</summary>
internal sealed record JsFunction(int Index, string Source);

/// <summary>A value that could not be copied: a symbol, a typed array, a cycle, too deep a nesting or too many values.</summary>
internal sealed record JsUnsupported(string What);

/// <summary>
/// Reads what hostbridge.js <c>snapshot</c> wrote: the definition's values copied out of V8 in one piece, so that
/// nothing after it touches a live script object (whose getters and proxy traps could run outside any time budget).
/// Strings, booleans and null are themselves; numbers become long when integral (and in range), double otherwise.
/// </summary>
internal static class ScriptData
{
    /// <summary>Limits the snapshot enforces (depth counts from the default export).</summary>
    public const int MaxDepth = 40, MaxArrayLength = 1 << 20, MaxValues = 1 << 21;

    public static object? Parse(string json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 3 * MaxDepth + 8 });
        return Read(document.RootElement);
    }

    private static object? Read(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => Number(e),
        JsonValueKind.Array => Tagged(e),
        _ => throw new FormatException($"snapshot: unexpected {e.ValueKind}"),
    };

    private static object Number(JsonElement e)
    {
        if (e.TryGetInt64(out long l)) return l;
        double d = e.GetDouble();
        return JsValues.AsInteger(d) is long integral ? integral : d;
    }

    private static object? Tagged(JsonElement e)
    {
        string tag = e[0].GetString() ?? "";
        return tag switch
        {
            "u" => JsMissing.Value,
            "num" => double.Parse(e[1].GetString()!, CultureInfo.InvariantCulture),
            "big" => BigInteger.Parse(e[1].GetString()!, CultureInfo.InvariantCulture),
            "a" => new JsArray(e[1].EnumerateArray().Select(Read).ToList()),
            "a!" => new JsHugeArray(e[1].GetString()!),
            "o" => new JsObject(e[1].EnumerateArray().Select(p => new KeyValuePair<string, object?>(p[0].GetString()!, Read(p[1]))).ToList()),
            "f" => new JsFunction(e[1].GetInt32(), e[2].GetString()!),
            "x" => new JsUnsupported(e[1].GetString()!),
            _ => throw new FormatException($"snapshot: unknown tag '{tag}'"),
        };
    }
}
