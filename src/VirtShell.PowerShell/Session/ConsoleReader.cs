using System.Text;
using System.Text.RegularExpressions;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;

namespace VirtShell.PowerShell.Session;

/// <summary>
/// Reads a machine's console output by absolute byte offset (the offsets of console.log and its rotated files), a
/// chunk at a time so a log of any size streams. console.log has every complete line; while this process runs the
/// machine, the live channel adds what is not flushed yet (a partial line). The live channel alone is not enough:
/// its window starts empty when the machine starts, yet it answers offsets before that with zeros.
/// </summary>
internal static class ConsoleReader
{
    /// <summary>The most read from the log at once: the size of the buffer a reader passes.</summary>
    public const int Chunk = 1 << 20;

    /// <summary>
    /// The bytes from <paramref name="offset"/> on: what fits in <paramref name="buffer"/> from the log, plus the live
    /// channel's unflushed tail when the log is read to its end; moves the offset past them. <c>More</c>: the log has
    /// more to read now.
    /// </summary>
    public static (ReadOnlyMemory<byte> Bytes, bool More) ReadFrom(Machine machine, ref long offset, byte[] buffer)
    {
        int read = ConsoleLog.Read(machine.ConsoleLogPath, ref offset, buffer);
        if (read == buffer.Length) return (buffer, true);
        if (!machine.IsLocal || machine.Console is not { } live || live.Position <= offset) return (buffer.AsMemory(0, read), false);
        byte[] withTail = [.. buffer.AsSpan(0, read), .. live.ReadFrom(ref offset)];
        return (withTail, false);
    }

    /// <summary>Waits for output past <paramref name="offset"/> for at most <paramref name="slice"/>.</summary>
    public static void WaitForOutput(Machine machine, long offset, TimeSpan slice, CancellationToken cancel)
    {
        if (machine.IsLocal && machine.Console is { } live) live.WaitForOutput(offset, slice, cancel);
        else cancel.WaitHandle.WaitOne(slice);
    }
}

/// <summary>
/// Console bytes cut into lines: each ends at '\n' (a '\r' before it dropped); the last may be partial. A line
/// ending alone at the end ("\r" of a "\r\n" still coming) is left for later, and so is the line ending that
/// completes a partial line returned before, so it never comes back as an empty line of its own.
/// </summary>
internal sealed class ConsoleLines
{
    private readonly List<(string Text, int End, bool Complete)> _lines = [];

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

    public int Count => _lines.Count;

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
