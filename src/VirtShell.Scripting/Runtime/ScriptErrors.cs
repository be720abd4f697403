using Microsoft.ClearScript;
using VirtShell.Engine.Definitions;
using VirtShell.Scripting.Modules;

namespace VirtShell.Scripting.Runtime;

/// <summary>A script call ran past its time budget and was interrupted.</summary>
internal sealed class ScriptTimeoutException(TimeSpan budget)
    : Exception($"did not finish within {budget.TotalSeconds:0.###} s and was interrupted");

/// <summary>A script call went past the heap limit.</summary>
internal sealed class ScriptHeapException(ulong limit)
    : Exception($"exceeded the script heap limit of {limit >> 20} MiB");

/// <summary>A stop request (Ctrl+C) interrupted the script, or came before it ran.</summary>
internal sealed class ScriptStoppedException()
    : Exception("was stopped by a stop request (Ctrl+C)");

/// <summary>A promise returned by a definition's function (an async hook) rejected; <see cref="Label"/> names the function.</summary>
internal sealed class ScriptRejectionException(string label, string message, string stack) : Exception(message)
{
    public string Label { get; } = label;
    public string Stack { get; } = stack;
}

/// <summary>
/// Turns what ClearScript throws into a message and a place in the definition. Nothing of ClearScript (types,
/// host stack traces) gets past this: callers wrap the result in DefinitionException or HookException.
/// </summary>
internal static class ScriptErrors
{
    public static (string Message, SourceLocation? Location) Describe(Exception error, DefinitionSources sources)
    {
        for (var e = error; e != null; e = e.InnerException)
            if (e is ImportException import) return (import.Message, import.Location);
        if (error is ScriptTimeoutException or ScriptHeapException or ScriptStoppedException) return (error.Message, null);
        if (error is ScriptRejectionException rejection) return (FirstLine(rejection.Message), LocationIn(rejection.Stack, sources));
        if (error is ScriptEngineException script)
            return (FirstLine(script.Message), LocationIn(script.ErrorDetails, sources));
        if (error is ObjectDisposedException) return ("the definition's script engine has been released", null);
        return (FirstLine(error.Message), null);
    }

    /// <summary>The first stack frame of <paramref name="details"/> that lies in a file of the definition.</summary>
    private static SourceLocation? LocationIn(string? details, DefinitionSources sources)
    {
        if (string.IsNullOrEmpty(details)) return null;
        var files = sources.Files.OrderByDescending(f => f.Length).ToArray(); // a longer path wins over its prefix
        foreach (var frame in details.Split('\n'))
            foreach (var file in files)
            {
                int at = frame.IndexOf(file + ":", StringComparison.Ordinal);
                if (at >= 0 && TryNumbers(frame, at + file.Length + 1, out int line, out int column))
                    return new SourceLocation(file, line, column);
            }
        return null;
    }

    private static bool TryNumbers(string s, int i, out int line, out int column)
    {
        line = column = 0;
        int start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        if (i == start || !int.TryParse(s.AsSpan(start, i - start), out line)) return false;
        if (i < s.Length && s[i] == ':')
        {
            int c = ++i;
            while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
            _ = int.TryParse(s.AsSpan(c, i - c), out column);
        }
        return line > 0;
    }

    private static string FirstLine(string message)
    {
        int nl = message.IndexOf('\n');
        return (nl >= 0 ? message[..nl] : message).Trim();
    }
}
