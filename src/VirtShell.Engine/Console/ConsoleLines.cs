using System.Text;
using System.Text.RegularExpressions;

namespace VirtShell.Engine.Console;

/// <summary>
/// Console bytes cut into lines: each ends at '\n' (a '\r' before it dropped); the last may be partial. A line
/// ending alone at the end ("\r" of a "\r\n" still coming) is left for later, and so is the line ending that
/// completes a partial line returned before, so it never comes back as an empty line of its own.
/// </summary>
public sealed class ConsoleLines
{
    private readonly List<(string Text, int End, bool Complete)> _lines = [];

    /// <summary>Cuts <paramref name="bytes"/> into lines.</summary>
    /// <param name="bytes">Output from a read cursor on; an incomplete UTF-8 sequence at the end is left for later.</param>
    /// <param name="continuesLine">The cursor is inside a line whose start was already returned.</param>
    public ConsoleLines(ReadOnlySpan<byte> bytes, bool continuesLine)
    {
        int usable = bytes.Length - IncompleteUtf8Tail(bytes);
        int start = 0;
        if (continuesLine)
        {
            if (bytes[..usable].StartsWith("\r\n"u8)) start = 2;
            else if (bytes[..usable].StartsWith("\n"u8)) start = 1;
        }
        while (start < usable)
        {
            int newline = bytes[start..usable].IndexOf((byte)'\n');
            if (newline < 0 && bytes[start..usable].SequenceEqual("\r"u8)) break;
            int end = newline < 0 ? usable : start + newline + 1;
            var text = Encoding.UTF8.GetString(bytes[start..(newline < 0 ? usable : start + newline)]);
            _lines.Add((text.TrimEnd('\r'), end, newline >= 0));
            start = end;
        }
    }

    /// <summary>How many lines, the partial last one included.</summary>
    public int Count => _lines.Count;

    /// <summary>The lines' text, the partial last one included.</summary>
    public IEnumerable<string> All => _lines.Select(l => l.Text);

    /// <summary>Where a cursor goes when all the lines are returned: bytes past the read start, and whether it ends mid-line.</summary>
    public (int ByteCount, bool MidLine)? AllConsumed => _lines.Count == 0 ? null : (_lines[^1].End, !_lines[^1].Complete);

    /// <summary>The complete lines (a partial last one left for later), with where the cursor goes; null when there are none.</summary>
    public (IReadOnlyList<string> Lines, int ByteCount)? Complete
    {
        get
        {
            int count = _lines.Count > 0 && !_lines[^1].Complete ? _lines.Count - 1 : _lines.Count;
            return count == 0 ? null : (_lines.Take(count).Select(l => l.Text).ToList(), _lines[count - 1].End);
        }
    }

    /// <summary>The lines up to and including the first that matches, with where the cursor goes; null when none matches.</summary>
    public (IReadOnlyList<string> Lines, int ByteCount, bool MidLine)? UpToMatch(Regex pattern)
    {
        int index = _lines.FindIndex(l => pattern.IsMatch(l.Text));
        return index < 0 ? null : (_lines.Take(index + 1).Select(l => l.Text).ToList(), _lines[index].End, !_lines[index].Complete);
    }

    /// <summary>How many bytes at the end start a UTF-8 sequence that is not complete yet.</summary>
    private static int IncompleteUtf8Tail(ReadOnlySpan<byte> bytes)
    {
        for (int back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            byte b = bytes[^back];
            if ((b & 0xC0) == 0x80) continue; // continuation byte: look further back for the lead
            int length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return length > back ? back : 0;
        }
        return 0;
    }
}
