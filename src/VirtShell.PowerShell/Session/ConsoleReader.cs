using System.Text;
using System.Text.RegularExpressions;
using VirtShell.Control;
using VirtShell.Engine.Machines;

namespace VirtShell.PowerShell.Session;

/// <summary>
/// Reads a machine's console output by absolute byte offset, a chunk at a time so a log of any size streams: from
/// the machine's host process while its run is under way (console.log and the unflushed tail, a prompt without its
/// line end), from console.log once it is at rest. One connection serves all the reads of a cmdlet.
/// </summary>
internal sealed class ConsoleReader(VirtShellSession session, CancellationToken cancel) : IDisposable
{
    /// <summary>The most read at once: the size of the buffer a reader passes.</summary>
    public const int Chunk = ConsoleReads.Chunk;

    private MachineClient? _client;

    /// <summary>
    /// The bytes from <paramref name="offset"/> on, at most a buffer's worth; moves the offset past them. <c>More</c>:
    /// there is more to read now.
    /// </summary>
    public (ReadOnlyMemory<byte> Bytes, bool More) ReadFrom(Machine machine, ref long offset, byte[] buffer)
    {
        if (Client(ref machine) is { } client)
        {
            try
            {
                var chunk = client.ReadConsoleAsync(offset, buffer.Length, 0, cancel).GetAwaiter().GetResult();
                offset = chunk.Next;
                return (chunk.Bytes, chunk.More);
            }
            catch (MachineStateException) { Drop(); } // the host has ended: console.log has every byte now
        }
        return machine.ReadConsole(ref offset, buffer);
    }

    /// <summary>Waits for output past <paramref name="offset"/> for at most <paramref name="slice"/>.</summary>
    public void WaitForOutput(Machine machine, long offset, TimeSpan slice)
    {
        if (Client(ref machine) is { } client)
        {
            try
            {
                client.ReadConsoleAsync(offset, 1, slice.TotalSeconds, cancel).GetAwaiter().GetResult();
                return;
            }
            catch (MachineStateException) { Drop(); }
            catch (OperationCanceledException) { return; }
        }
        cancel.WaitHandle.WaitOne(slice);
    }

    private MachineClient? Client(ref Machine machine) => _client ??= session.Connect(ref machine);

    private void Drop()
    {
        _client?.Dispose();
        _client = null;
    }

    public void Dispose() => Drop();
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
