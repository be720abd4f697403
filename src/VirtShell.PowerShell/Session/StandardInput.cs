using VirtShell.Engine.Native;

namespace VirtShell.PowerShell.Session;

/// <summary>
/// This process's standard input as an attached console reads it: in raw mode while it is a terminal (keys as
/// typed, no echo, Ctrl+C a byte for the guest), set back as it was on dispose; a redirected input is read as it
/// is. Reads wait in poll(2) a slice at a time, so a cancelled read returns instead of keeping a thread blocked on
/// the terminal that would take the next key typed at the prompt.
/// </summary>
internal sealed unsafe class StandardInput : Stream
{
    private const int Fd = 0;
    private const int SliceMilliseconds = 100;
    private readonly byte[]? _saved;

    private StandardInput(byte[]? saved) => _saved = saved;

    /// <summary>Standard input, switched to raw mode when it is a terminal.</summary>
    public static StandardInput Open()
    {
        if (Libc.isatty(Fd) != 1) return new StandardInput(null);
        var saved = new byte[Libc.TermiosSize];
        var raw = new byte[Libc.TermiosSize];
        fixed (byte* s = saved)
        fixed (byte* r = raw)
        {
            if (Libc.tcgetattr(Fd, s) != 0) throw Libc.Error("tcgetattr standard input");
            saved.CopyTo(raw, 0);
            Libc.cfmakeraw(r);
            if (Libc.tcsetattr(Fd, Libc.TCSANOW, r) != 0) throw Libc.Error("tcsetattr standard input");
        }
        return new StandardInput(saved);
    }

    /// <summary>Whether standard input is a terminal (now in raw mode).</summary>
    public bool IsTerminal => _saved is not null;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        new(Task.Run(() => Read(buffer, cancellationToken), cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsMemory(offset, count), CancellationToken.None);

    private static int Read(Memory<byte> buffer, CancellationToken cancel)
    {
        var fd = new Libc.PollFd { Fd = Fd, Events = Libc.POLLIN };
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            int ready = Libc.poll(&fd, 1, SliceMilliseconds);
            if (ready == 0 || (ready < 0 && Libc.LastError == Libc.EINTR)) continue;
            if (ready < 0) throw Libc.Error("poll standard input");
            using var pin = buffer.Pin();
            nint read = Libc.read(Fd, (byte*)pin.Pointer, (nuint)buffer.Length);
            if (read >= 0) return (int)read;
            if (Libc.LastError is not (Libc.EINTR or Libc.EAGAIN)) throw Libc.Error("read standard input");
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (_saved is not null)
            fixed (byte* s = _saved)
                Libc.tcsetattr(Fd, Libc.TCSANOW, s);
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
