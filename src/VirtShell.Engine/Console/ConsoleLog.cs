using System.Globalization;

namespace VirtShell.Engine.Console;

/// <summary>
/// console.log with rotation. Offsets are absolute (bytes since the log began), across files: console.log.offset
/// holds the offset where console.log starts, and each older file (console.log.1, .2, …) ends where the next newer
/// one starts. Rotation renames console.log to console.log.1 (shifting the older ones, deleting the oldest), then
/// writes the new start, so a reader that sees the same start before and after opening the files saw one state.
/// </summary>
public sealed class ConsoleLog : IDisposable
{
    private const string StartSuffix = ".offset";

    private readonly string _path;
    private readonly ConsoleLimits _limits;
    private FileStream _file;
    private long _start;
    private long _length; // of console.log, kept here: a UART writes a byte at a time

    /// <summary>
    /// Opens <paramref name="path"/> (console.log) for appending, going on from the offset a previous run ended at. One
    /// writer per log; not thread-safe (<see cref="ConsoleChannel"/> writes under its lock).
    /// </summary>
    public ConsoleLog(string path, ConsoleLimits limits)
    {
        _path = path;
        _limits = limits;
        _start = ReadStart(path);
        _file = OpenForAppend(path);
        _length = _file.Length;
    }

    /// <summary>Offset one past the last byte written.</summary>
    public long End => _start + _length;

    /// <summary>Appends, rotating whenever console.log reaches the size limit (a write may span files).</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (_length >= _limits.MaxSize) Rotate();
            int fits = (int)Math.Min(bytes.Length, _limits.MaxSize - _length);
            _file.Write(bytes[..fits]);
            _length += fits;
            bytes = bytes[fits..];
        }
    }

    /// <summary>Pushes buffered bytes to the file, where readers see them.</summary>
    public void Flush() => _file.Flush();

    /// <summary>Closes the current file.</summary>
    public void Dispose() => _file.Dispose();

    private void Rotate()
    {
        long end = End;
        _file.Dispose();
        // Files past the limit (an earlier, larger maxFiles) would no longer end where the next one starts.
        for (int k = _limits.MaxFiles; File.Exists(Numbered(_path, k)); k++) File.Delete(Numbered(_path, k));
        for (int k = _limits.MaxFiles - 1; k >= 1; k--)
        {
            string from = Numbered(_path, k - 1);
            if (File.Exists(from)) File.Move(from, Numbered(_path, k), overwrite: true);
        }
        File.Delete(_path);
        string temp = _path + StartSuffix + ".new";
        File.WriteAllText(temp, end.ToString(CultureInfo.InvariantCulture));
        File.Move(temp, _path + StartSuffix, overwrite: true);
        _start = end;
        _file = OpenForAppend(_path);
        _length = 0;
    }

    private static FileStream OpenForAppend(string path) =>
        new(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);

    private static string Numbered(string path, int k) => k == 0 ? path : $"{path}.{k}";

    private static long ReadStart(string path)
    {
        try
        {
            return long.TryParse(File.ReadAllText(path + StartSuffix), NumberStyles.None, CultureInfo.InvariantCulture, out long start) ? start : 0;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return 0;
        }
    }

    /// <summary>
    /// Reads what the log at <paramref name="path"/> holds from <paramref name="offset"/> into
    /// <paramref name="buffer"/>, across rotated files, and moves the offset past what was read. An offset older
    /// than the oldest file kept moves forward to its start. Returns 0 at the end or when there is no log.
    /// </summary>
    public static int Read(string path, ref long offset, Span<byte> buffer)
    {
        // A rotation takes a moment; a writer killed in the middle of one must not make readers wait forever.
        for (int attempt = 0; ; attempt++)
        {
            long start = ReadStart(path);
            var files = new List<FileStream>();
            try
            {
                for (int k = 0; TryOpen(Numbered(path, k)) is { } file; k++) files.Add(file);
                bool settled = files.Count > 0 ? ReadStart(path) == start : !File.Exists(Numbered(path, 1));
                if (!settled && attempt < 100)
                {
                    Thread.Sleep(1); // rotated while we looked: look again
                    continue;
                }
                return files.Count == 0 ? 0 : Read(files, start, ref offset, buffer);
            }
            finally
            {
                foreach (var file in files) file.Dispose();
            }
        }
    }

    /// <summary><see cref="Read(string, ref long, Span{byte})"/> on files already opened.</summary>
    /// <param name="files">console.log first, then older ones.</param>
    /// <param name="start">The offset console.log starts at.</param>
    /// <param name="offset">Where to read from; moved past what was read.</param>
    /// <param name="buffer">Where the bytes go.</param>
    private static int Read(List<FileStream> files, long start, ref long offset, Span<byte> buffer)
    {
        var starts = new long[files.Count];
        starts[0] = start;
        for (int k = 1; k < files.Count; k++) starts[k] = starts[k - 1] - files[k].Length;
        offset = Math.Max(offset, starts[^1]);
        int read = 0;
        for (int k = files.Count - 1; k >= 0 && read < buffer.Length; k--)
        {
            long end = starts[k] + files[k].Length;
            if (offset >= end) continue;
            files[k].Position = offset - starts[k];
            int n = files[k].Read(buffer[read..(int)Math.Min(buffer.Length, read + end - offset)]);
            if (n == 0) break;
            read += n;
            offset += n;
        }
        return read;
    }

    private static FileStream? TryOpen(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
