using System.Numerics;
using VirtShell.Engine.Definitions;

namespace VirtShell.Scripting.Definitions;

/// <summary>
/// Converts values of a definition's snapshot (<see cref="ScriptData"/>) into plain .NET: long for integers,
/// double, bool, string, List&lt;object?&gt; for arrays and Dictionary&lt;string, object?&gt; for objects. Specs are
/// persisted as JSON and validated by models that know nothing of V8, so nothing of the snapshot may leak into them.
/// </summary>
internal static class JsValues
{
    /// <summary>How deep a setting may nest below the setting itself.</summary>
    private const int MaxDepth = 32;

    public static bool IsMissing(object? value) => value is JsMissing;

    public static bool IsFunction(object? value) => value is JsFunction;

    public static bool IsArray(object? value) => value is JsArray or JsHugeArray;

    public static bool IsPlainObject(object? value) => value is JsObject;

    /// <summary>A JS number (from a snapshot, or as ClearScript returns one) as a long; null when it is not an integer.</summary>
    public static long? AsInteger(object? value) => value switch
    {
        int i => i, long l => l, short s => s, sbyte b => b, byte b => b, ushort u => u, uint u => u,
        ulong u when u <= long.MaxValue => (long)u,
        float f when IsIntegral(f) => (long)f,
        double d when IsIntegral(d) => (long)d,
        BigInteger b when b >= long.MinValue && b <= long.MaxValue => (long)b,
        _ => null,
    };

    private static bool IsIntegral(double d) => !double.IsInfinity(d) && d == Math.Floor(d) && Math.Abs(d) < 9.2e18;

    /// <summary>What a value is, for messages: "an array", "the string 'x'", "the number 1.5"...</summary>
    public static string Describe(object? value) => value switch
    {
        null => "null",
        JsMissing => "undefined",
        string s => $"the string '{(s.Length > 40 ? s[..40] + "…" : s)}'",
        bool b => b ? "true" : "false",
        long or double => $"the number {Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)}",
        BigInteger b => $"the BigInt {b}",
        JsArray or JsHugeArray => "an array",
        JsObject => "an object",
        JsFunction => "a function",
        JsUnsupported u => u.What,
        _ => "a value of an unsupported kind",
    };

    /// <summary>Converts <paramref name="value"/>; <paramref name="what"/> names it in errors, <paramref name="at"/> places them.</summary>
    public static object? ToPlain(object? value, string what, SourceLocation? at, int depth = 0)
    {
        if (depth > MaxDepth) throw new DefinitionException($"{what} is nested more than {MaxDepth} levels deep", at);
        switch (value)
        {
            case null or JsMissing: return null;
            case string or bool or long: return value;
            case double d when !double.IsFinite(d):
                throw new DefinitionException($"{what} must be a finite number, not {value}", at);
            case double d: return d;
            case BigInteger b: return AsInteger(b) ?? throw new DefinitionException($"{what} ({b}) does not fit in 64 bits", at);
            case JsFunction: throw new DefinitionException($"{what} is a function; only hooks and scriptDevice take functions", at);
            case JsUnsupported { What: "a typed array" }: throw new DefinitionException($"{what}: typed arrays are not supported here; use a plain array", at);
            case JsUnsupported u: throw new DefinitionException($"{what} is {u.What}, which a definition's data cannot hold", at);
            case JsHugeArray huge: throw TooLong(what, huge, at);
            case JsArray array:
                var list = new List<object?>(array.Items.Count);
                for (int i = 0; i < array.Items.Count; i++) list.Add(ToPlain(array.Items[i], $"{what}[{i}]", at, depth + 1));
                return list;
            case JsObject obj:
                var dict = new Dictionary<string, object?>();
                foreach (var (key, item) in obj.Entries)
                    if (item is not JsMissing) dict[key] = ToPlain(item, $"{what}.{key}", at, depth + 1);
                return dict;
        }
        throw new DefinitionException($"{what} has a value of an unsupported kind", at);
    }

    public static DefinitionException TooLong(string what, JsHugeArray array, SourceLocation? at) =>
        new($"{what} is an array of length {array.Length}: a definition's arrays hold at most {ScriptData.MaxArrayLength} elements", at);
}
