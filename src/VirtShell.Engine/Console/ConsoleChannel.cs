using System.Text;

namespace VirtShell.Engine.Console;

/// <summary>
/// The serial console of one machine. Output: every byte the guest sends within its rate limit is appended to
/// console.log (rotated, see <see cref="ConsoleLog"/>) and kept in a bounded in-memory window that readers address by
/// absolute offset (bytes since the machine was created, so a reader never sees a byte twice); bytes past the rate
/// limit are dropped and counted. Input: a queue the guest's UART drains.
/// </summary>
public sealed class ConsoleChannel : IDisposable
{
    private const int MaxLineLength = 64 * 1024;

    private readonly object _lock = new();
    private readonly byte[] _window;
    private long _total;            // bytes ever written; _window holds the last min(_total - _start, capacity)
    private readonly long _start;   // what console.log held before this channel: on disk only, not in the window
    private readonly ConsoleLog? _log;
    private readonly TokenBucket? _bucket;
    private long _dropped;
    private readonly StringBuilder _line = new();
    private readonly Queue<byte> _input = new();
    private long _inputTotal;

    /// <summary>A console whose output goes to <paramref name="logPath"/>, going on from where console.log ends.</summary>
    /// <param name="logPath">console.log to append to, or null for none.</param>
    /// <param name="capacity">Bytes of recent output kept in memory for readers.</param>
    /// <param name="limits">Rotation and rate limit; <see cref="ConsoleLimits.Default"/> when null.</param>
    /// <param name="time">The clock the rate limit refills by (tests pass their own).</param>
    public ConsoleChannel(string? logPath, int capacity = 1 << 20, ConsoleLimits? limits = null, TimeProvider? time = null)
    {
        limits ??= ConsoleLimits.Default;
        _window = new byte[capacity];
        if (limits.Rate > 0) _bucket = new TokenBucket(limits.Rate, limits.Burst, time ?? TimeProvider.System);
        if (logPath != null)
        {
            _log = new ConsoleLog(logPath, limits);
            _total = _start = _log.End;
        }
    }

    /// <summary>Offset one past the last byte the guest wrote.</summary>
    public long Position { get { lock (_lock) return _total; } }

    /// <summary>Bytes the guest wrote through this channel (this run; console.log may hold earlier runs too).</summary>
    public long BytesFromGuest { get { lock (_lock) return _total - _start; } }

    /// <summary>Bytes the guest wrote past the rate limit, dropped (this run).</summary>
    public long BytesDropped { get { lock (_lock) return _dropped; } }

    /// <summary>Bytes sent to the guest through this channel, read by it or still queued.</summary>
    public long BytesToGuest { get { lock (_lock) return _inputTotal; } }

    /// <summary>Raised for each complete line (without its line ending), on the thread that wrote it.</summary>
    public event Action<string>? LineReceived;

    /// <summary>Raised when the host queued input for the guest.</summary>
    public event Action? InputAvailable;

    /// <summary>
    /// One byte from the guest (a UART's transmit register); see <see cref="WriteFromGuest(ReadOnlySpan{byte})"/>.
    /// </summary>
    public void WriteFromGuest(byte b) => WriteFromGuest([b]);

    /// <summary>
    /// Appends what the guest sent, in one hold of the lock: devices that move bytes in bulk (virtio-console) pay for
    /// the lock and console.log once per transfer rather than once per byte. console.log is flushed when the bytes
    /// complete a line, and <see cref="LineReceived"/> is raised for each completed line after all are stored.
    /// </summary>
    public void WriteFromGuest(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        List<string>? lines = null;
        lock (_lock)
        {
            if (_bucket != null)
            {
                int allowed = _bucket.Take(bytes.Length);
                _dropped += bytes.Length - allowed;
                bytes = bytes[..allowed];
                if (bytes.IsEmpty) return;
            }
            AppendToWindow(bytes);
            _log?.Write(bytes);
            int last = bytes.LastIndexOf((byte)'\n');
            bool completesLine = last >= 0;
            if (completesLine && LineReceived != null)
            {
                var rest = bytes;
                for (int newline; (newline = rest.IndexOf((byte)'\n')) >= 0; rest = rest[(newline + 1)..])
                {
                    AppendToLine(rest[..newline]);
                    (lines ??= []).Add(_line.ToString().TrimEnd('\r'));
                    _line.Clear();
                }
            }
            // Lines nobody listens for are not made into strings; the one still arriving is kept either way.
            else if (completesLine) _line.Clear();
            AppendToLine(bytes[(last + 1)..]);
            if (completesLine) _log?.Flush();
            Monitor.PulseAll(_lock);
        }
        if (lines != null) foreach (var line in lines) LineReceived?.Invoke(line);
    }

    private void AppendToWindow(ReadOnlySpan<byte> bytes)
    {
        // Only the last window's worth can stay; older bytes of a long write go to console.log alone.
        var kept = bytes.Length > _window.Length ? bytes[^_window.Length..] : bytes;
        int index = (int)((_total + bytes.Length - kept.Length) % _window.Length);
        int first = Math.Min(kept.Length, _window.Length - index);
        kept[..first].CopyTo(_window.AsSpan(index));
        kept[first..].CopyTo(_window);
        _total += bytes.Length;
    }

    /// <summary>Bytes of the line being received, as Latin-1 characters; a line stops growing at <see cref="MaxLineLength"/>.</summary>
    private void AppendToLine(ReadOnlySpan<byte> bytes)
    {
        int room = MaxLineLength - _line.Length;
        if (room > 0 && !bytes.IsEmpty) _line.Append(Encoding.Latin1.GetString(bytes[..Math.Min(room, bytes.Length)]));
    }

    /// <summary>Makes sure what the guest wrote so far is in console.log (called when a machine stops).</summary>
    public void Flush() { lock (_lock) _log?.Flush(); }

    /// <summary>
    /// Copies out the bytes from <paramref name="offset"/> to the current end. Bytes that fell out of the window, or
    /// were in console.log before this channel opened, are skipped (<paramref name="offset"/> moves forward to the
    /// oldest one kept).
    /// </summary>
    public byte[] ReadFrom(ref long offset)
    {
        lock (_lock)
        {
            long oldest = Math.Max(_start, _total - _window.Length);
            if (offset < oldest) offset = oldest;
            if (offset > _total) offset = _total;
            var result = new byte[_total - offset];
            int index = (int)(offset % _window.Length);
            int first = Math.Min(result.Length, _window.Length - index);
            _window.AsSpan(index, first).CopyTo(result);
            _window.AsSpan(0, result.Length - first).CopyTo(result.AsSpan(first));
            offset = _total;
            return result;
        }
    }

    /// <summary>Waits until the guest has written past <paramref name="offset"/> or the timeout passes.</summary>
    public bool WaitForOutput(long offset, TimeSpan timeout, CancellationToken cancel = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_lock)
        {
            while (_total <= offset)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || cancel.IsCancellationRequested) return false;
                Monitor.Wait(_lock, left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
            }
            return true;
        }
    }

    /// <summary>
    /// Queues <paramref name="bytes"/> for the guest and raises <see cref="InputAvailable"/>; thread-safe, never
    /// blocks.
    /// </summary>
    public void SendInput(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            foreach (var b in bytes) _input.Enqueue(b);
            _inputTotal += bytes.Length;
        }
        InputAvailable?.Invoke();
    }

    /// <summary>Queues <paramref name="text"/> as UTF-8.</summary>
    public void SendInput(string text) => SendInput(Encoding.UTF8.GetBytes(text));

    /// <summary>Takes the next queued input byte for the guest; false when none is queued. Thread-safe.</summary>
    public bool TryReadInput(out byte b)
    {
        lock (_lock) return _input.TryDequeue(out b);
    }

    /// <summary>Input bytes queued and not yet read by the guest.</summary>
    public int PendingInput { get { lock (_lock) return _input.Count; } }

    /// <summary>
    /// Closes console.log, once the guest writes no more; what it wrote stays readable through <see cref="ReadFrom"/>.
    /// </summary>
    public void Dispose()
    {
        lock (_lock) _log?.Dispose();
    }
}
