using System.Numerics;
using Microsoft.ClearScript;
using Microsoft.ClearScript.JavaScript;
using VirtShell.Engine.Definitions;

namespace VirtShell.Scripting.Definitions;

/// <summary>
/// Converts values a definition produced into plain .NET: long for integers, double, bool, string,
/// List&lt;object?&gt; for arrays and Dictionary&lt;string, object?&gt; for objects. Specs are persisted as JSON and
/// validated by models that know nothing of V8, so no script object may leak into them.
/// </summary>
internal static class JsValues
{
    private const int MaxDepth = 32;

    public static bool IsUndefined(object? value) => value is Undefined;

    public static bool IsFunction(object? value) => value is IJavaScriptObject { Kind: JavaScriptObjectKind.Function };

    public static bool IsArray(object? value) => value is IJavaScriptObject { Kind: JavaScriptObjectKind.Array };

    public static bool IsPlainObject(object? value) =>
        value is ScriptObject && value is IJavaScriptObject { Kind: not (JavaScriptObjectKind.Function or JavaScriptObjectKind.Array) } and not IArrayBufferView;

    /// <summary>A JS number as a long, or null when it is not an integer (or not a number at all).</summary>
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

    public static IEnumerable<string> Keys(ScriptObject obj) => obj.PropertyNames;

    /// <summary>Converts <paramref name="value"/>; <paramref name="what"/> names it in errors, <paramref name="at"/> places them.</summary>
    public static object? ToPlain(object? value, string what, SourceLocation? at, int depth = 0)
    {
        if (depth > MaxDepth) throw new DefinitionException($"{what} is nested more than {MaxDepth} levels deep (a cycle?)", at);
        switch (value)
        {
            case null or Undefined: return null;
            case string or bool: return value;
            case float f when !float.IsFinite(f):
            case double d when !double.IsFinite(d):
                throw new DefinitionException($"{what} must be a finite number, not {value}", at);
            case float f: return AsInteger(f) is long fl ? fl : (double)f;
            case double d: return AsInteger(d) is long dl ? dl : d;
            case BigInteger b: return AsInteger(b) ?? throw new DefinitionException($"{what} ({b}) does not fit in 64 bits", at);
        }
        if (AsInteger(value) is long integer) return integer;
        if (value is IArrayBufferView) throw new DefinitionException($"{what}: typed arrays are not supported here; use a plain array", at);
        if (IsFunction(value)) throw new DefinitionException($"{what} is a function; only hooks and scriptDevice take functions", at);
        if (value is ScriptObject obj && IsArray(value))
        {
            int length = (int)(AsInteger(obj.GetProperty("length")) ?? 0);
            var list = new List<object?>(length);
            for (int i = 0; i < length; i++) list.Add(ToPlain(obj.GetProperty(i), $"{what}[{i}]", at, depth + 1));
            return list;
        }
        if (value is ScriptObject plain)
        {
            var dict = new Dictionary<string, object?>();
            foreach (var key in plain.PropertyNames)
            {
                var item = plain.GetProperty(key);
                if (item is not Undefined) dict[key] = ToPlain(item, $"{what}.{key}", at, depth + 1);
            }
            return dict;
        }
        throw new DefinitionException($"{what} has a value of an unsupported kind", at);
    }
}
