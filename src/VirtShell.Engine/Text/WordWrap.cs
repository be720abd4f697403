namespace VirtShell.Engine.Text;

/// <summary>
/// Word wrapping for text shown in a fixed width: format views (PowerShell wraps a table or list cell at the exact
/// column width, cutting words: "interpre / ter") and chart labels.
/// </summary>
public static class WordWrap
{
    /// <summary>
    /// <paramref name="text"/> as lines of at most <paramref name="width"/> characters joined by "\n", broken at
    /// spaces; only a word longer than the width is cut.
    /// </summary>
    public static string Wrap(string? text, int width)
    {
        if (string.IsNullOrEmpty(text) || width <= 0) return text ?? "";
        var lines = new List<string>();
        var line = new System.Text.StringBuilder();
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear();
            }
            if (line.Length > 0) line.Append(' ');
            line.Append(word);
            while (line.Length > width)
            {
                lines.Add(line.ToString(0, width));
                line.Remove(0, width);
            }
        }
        if (line.Length > 0) lines.Add(line.ToString());
        return string.Join('\n', lines);
    }
}
