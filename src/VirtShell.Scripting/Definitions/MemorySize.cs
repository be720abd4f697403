using System.Text.RegularExpressions;

namespace VirtShell.Scripting.Definitions;

/// <summary>Sizes as definitions write them (guest memory, console limits): a number of bytes, or '640K', '1M', '2G' (binary units).</summary>
internal static partial class MemorySize
{
    public const ulong Page = 4096;

    [GeneratedRegex(@"^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex SizePattern();

    /// <summary>The size in bytes, or an error text saying what is wrong.</summary>
    public static (ulong Bytes, string? Error) Parse(object? value)
    {
        if (value is null) return (0, "memory is required (e.g. memory: '1M')");
        var (bytes, error) = Bytes(value, "memory");
        if (error != null) return (0, error);
        if (bytes == 0) return (0, "memory must be more than 0 bytes");
        if (bytes % Page != 0) return (0, $"memory ({bytes} bytes) must be a multiple of 4 KiB");
        return (bytes, null);
    }

    /// <summary>A number of bytes, or a string such as '640K', '1M', '2G'; <paramref name="what"/> names it in the error.</summary>
    public static (ulong Bytes, string? Error) Bytes(object? value, string what)
    {
        if (value is string text)
        {
            var m = SizePattern().Match(text);
            if (!m.Success || !ulong.TryParse(m.Groups[1].Value, out ulong number))
                return (0, $"{what} '{text}' is not a size: give a number of bytes or a string such as '640K', '1M', '2G'");
            int shift = char.ToUpperInvariant(m.Groups[2].Value.FirstOrDefault()) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
            if (number > ulong.MaxValue >> shift) return (0, $"{what} '{text}' is too large");
            return (number << shift, null);
        }
        if (JsValues.AsInteger(value) is long n)
            return n < 0 ? (0, $"{what} must be positive, not {n}") : ((ulong)n, null);
        return (0, $"{what} must be a number of bytes or a string such as '1M', not {JsValues.Describe(value)}");
    }
}
