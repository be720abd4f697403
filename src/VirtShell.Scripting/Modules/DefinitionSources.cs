using System.Text.RegularExpressions;
using VirtShell.Engine.Definitions;

namespace VirtShell.Scripting.Modules;

/// <summary>
/// The text of every file a definition loaded. V8 reports places by file name, line and column; with the text we
/// can also find places V8 does not report: the line of a property such as <c>boot:</c>, of an import, or of a
/// hook function that had to be interrupted.
/// </summary>
internal sealed class DefinitionSources
{
    private readonly Dictionary<string, string> _texts;
    private readonly object _lock = new();

    public DefinitionSources() => _texts = new(StringComparer.Ordinal);

    /// <summary>Sources already read, as <see cref="Texts"/> gave them.</summary>
    public DefinitionSources(IReadOnlyDictionary<string, string> texts) => _texts = new(texts, StringComparer.Ordinal);

    public string Read(string path)
    {
        string text = File.ReadAllText(path);
        lock (_lock) _texts[path] = text;
        return text;
    }

    public IReadOnlyCollection<string> Files { get { lock (_lock) return _texts.Keys.ToArray(); } }

    /// <summary>A copy of every loaded file's text, by path.</summary>
    public IReadOnlyDictionary<string, string> Texts() { lock (_lock) return new Dictionary<string, string>(_texts, StringComparer.Ordinal); }

    /// <summary>Maps the file name V8 reports back to a loaded path (V8 may show the path or its file URI).</summary>
    public string? Known(string? reported)
    {
        if (string.IsNullOrEmpty(reported)) return null;
        lock (_lock)
        {
            if (_texts.ContainsKey(reported)) return reported;
            if (Uri.TryCreate(reported, UriKind.Absolute, out var uri) && uri.IsFile && _texts.ContainsKey(uri.LocalPath)) return uri.LocalPath;
            string unescaped = Uri.UnescapeDataString(reported);
            return _texts.ContainsKey(unescaped) ? unescaped : null;
        }
    }

    /// <summary>
    /// The first place at or after the line of <paramref name="from"/> where <paramref name="key"/> appears as a
    /// property (<c>key:</c>) or a method (<c>key(args) {</c>). A heuristic on the text; callers fall back to
    /// <paramref name="from"/> when it finds nothing.
    /// </summary>
    public SourceLocation? FindProperty(SourceLocation from, string key)
    {
        string? text = TextOf(from.File);
        if (text == null) return null;
        var match = new Regex(@"(?<![\w$.])" + Regex.Escape(key) + @"\s*(?::|\([^()]*\)\s*\{)").Match(text, OffsetOf(text, from.Line));
        return match.Success ? At(from.File, text, match.Index) : null;
    }

    /// <summary>The first place <paramref name="snippet"/> appears in <paramref name="file"/> (a quoted import specifier).</summary>
    public SourceLocation? FindText(string file, string snippet)
    {
        string? text = TextOf(file);
        if (text == null) return null;
        foreach (var quoted in new[] { $"'{snippet}'", $"\"{snippet}\"", snippet })
        {
            int i = text.IndexOf(quoted, StringComparison.Ordinal);
            if (i >= 0) return At(file, text, i);
        }
        return null;
    }

    /// <summary>Where a function's source text (what <c>Function.prototype.toString</c> gives) sits among the loaded files.</summary>
    public SourceLocation? FindFunction(string functionSource)
    {
        if (string.IsNullOrEmpty(functionSource)) return null;
        lock (_lock)
            foreach (var (file, text) in _texts)
            {
                int i = text.IndexOf(functionSource, StringComparison.Ordinal);
                if (i >= 0) return At(file, text, i);
            }
        return null;
    }

    private string? TextOf(string file) { lock (_lock) return _texts.GetValueOrDefault(file); }

    private static int OffsetOf(string text, int line)
    {
        int offset = 0;
        for (int l = 1; l < line && offset >= 0; l++)
        {
            offset = text.IndexOf('\n', offset);
            if (offset >= 0) offset++;
        }
        return offset < 0 ? text.Length : offset;
    }

    private static SourceLocation At(string file, string text, int index)
    {
        int line = 1, lineStart = 0;
        for (int i = 0; i < index; i++)
            if (text[i] == '\n') { line++; lineStart = i + 1; }
        return new SourceLocation(file, line, index - lineStart + 1);
    }
}
