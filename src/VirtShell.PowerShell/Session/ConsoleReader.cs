using System.Text;
using System.Text.RegularExpressions;
using VirtShell.Engine.Machines;

namespace VirtShell.PowerShell.Session;

/// <summary>
/// Reads a machine's console output by absolute byte offset (the offsets of console.log): from the live channel
/// while this process runs the machine, else from console.log on disk.
/// </summary>
internal static class ConsoleReader
{
    /// <summary>The bytes from <paramref name="offset"/> to the current end; moves the offset to that end.</summary>
    public static byte[] ReadFrom(Machine machine, ref long offset)
    {
        if (machine.IsLocal && machine.Console is { } live) return live.ReadFrom(ref offset);
        try
        {
            using var log = new FileStream(machine.ConsoleLogPath, FileMode.Open, FileAccess.Read,
                FileShare.ReadWrite | FileShare.Delete);
            if (offset > log.Length) offset = log.Length;
            log.Position = offset;
            var bytes = new byte[log.Length - offset];
            log.ReadExactly(bytes);
            offset += bytes.Length;
            return bytes;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return []; // never started: no console yet
        }
    }

    /// <summary>Waits for output past <paramref name="offset"/> for at most <paramref name="slice"/>.</summary>
    public static void WaitForOutput(Machine machine, long offset, TimeSpan slice, CancellationToken cancel)
    {
        if (machine.IsLocal && machine.Console is { } live) live.WaitForOutput(offset, slice, cancel);
        else cancel.WaitHandle.WaitOne(slice);
    }
}

/// <summary>Console bytes cut into lines: each ends at '\n' (a '\r' before it dropped); the last may be partial.</summary>
internal sealed class ConsoleLines
{
    private readonly List<(string Text, int End)> _lines = [];

    /// <param name="bytes">Output from a read cursor on; an incomplete UTF-8 sequence at the end is left for later.</param>
    public ConsoleLines(ReadOnlySpan<byte> bytes)
    {
        int usable = bytes.Length - IncompleteUtf8Tail(bytes);
        int start = 0;
        while (start < usable)
        {
            int newline = bytes[start..usable].IndexOf((byte)'\n');
            int end = newline < 0 ? usable : start + newline + 1;
            var text = Encoding.UTF8.GetString(bytes[start..(newline < 0 ? usable : start + newline)]);
            _lines.Add((text.TrimEnd('\r'), end));
            start = end;
        }
    }

    public int Count => _lines.Count;

    /// <summary>Bytes the lines take up (what a cursor moves past when they are returned).</summary>
    public int ByteCount => _lines.Count == 0 ? 0 : _lines[^1].End;

    public IEnumerable<string> All => _lines.Select(l => l.Text);

    /// <summary>The lines up to and including the first that matches, and the bytes they take; null when none matches.</summary>
    public (IReadOnlyList<string> Lines, int ByteCount)? UpToMatch(Regex pattern)
    {
        int index = _lines.FindIndex(l => pattern.IsMatch(l.Text));
        return index < 0 ? null : (_lines.Take(index + 1).Select(l => l.Text).ToList(), _lines[index].End);
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
