using System.Collections;
using System.Collections.Concurrent;
using System.Management.Automation;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Remoting;

/// <summary>
/// The far end of Enter-VirtConsole on another host (<see cref="RemoteConsole"/>), run by a script in the session
/// on the machine's host: it attaches to the machine there, the keys typed being what the pipeline's input brings
/// (byte arrays, as they are typed) and the guest's output the pipeline's output (a byte array per chunk, as the
/// guest writes it). The last object is how it ended: a <see cref="ConsoleAttachResult"/>, or an ErrorRecord for
/// the script to write. The input's end (the attaching side has stopped) ends the attachment.
/// </summary>
public static class ConsoleRelay
{
    public static IEnumerable<object> Run(string name, bool fromStart, IEnumerator keys)
    {
        var local = VirtShellSession.Current;
        if (local.Host.Find(name) is not { } machine)
        {
            yield return VirtShellErrors.MachineMissing(name, local.Store.MachinesDirectory);
            yield break;
        }
        // Not disposed: the attachment may still write to it while the pipeline is being stopped.
        var chunks = new BlockingCollection<byte[]>();
        var attach = Task.Run(() =>
        {
            using var ended = new CancellationTokenSource();
            try
            {
                return SessionConsoleAttachment.Run(local, machine, fromStart, new KeyStream(keys, ended), new ChunkStream(chunks), ended.Token);
            }
            finally
            {
                chunks.CompleteAdding();
            }
        });
        foreach (var chunk in chunks.GetConsumingEnumerable()) yield return chunk;
        yield return Outcome(attach, name);
    }

    private static object Outcome(Task<ConsoleAttachResult> attach, string name)
    {
        try
        {
            return attach.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            return VirtShellErrors.FromException(e, name);
        }
    }

    /// <summary>The pipeline's input as what is typed; its end cancels <paramref name="ended"/>.</summary>
    private sealed class KeyStream(IEnumerator keys, CancellationTokenSource ended) : Stream
    {
        private byte[] _held = [];
        private int _at;
        private Task<bool>? _next;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_at == _held.Length)
            {
                // The wait for the next input cannot be cancelled; one left behind ends with the input.
                _next ??= Task.Run(keys.MoveNext, CancellationToken.None);
                bool more = await _next.WaitAsync(cancellationToken).ConfigureAwait(false);
                _next = null;
                if (!more)
                {
                    ended.Cancel();
                    return 0;
                }
                _held = keys.Current is PSObject { BaseObject: byte[] wrapped } ? wrapped : keys.Current as byte[] ?? [];
                _at = 0;
            }
            int count = Math.Min(buffer.Length, _held.Length - _at);
            _held.AsMemory(_at, count).CopyTo(buffer);
            _at += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
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

    /// <summary>The guest's output, handed a chunk at a time to the pipeline's thread.</summary>
    private sealed class ChunkStream(BlockingCollection<byte[]> chunks) : Stream
    {
        public override void Write(byte[] buffer, int offset, int count) => chunks.Add(buffer.AsSpan(offset, count).ToArray());
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            chunks.Add(buffer.ToArray(), cancellationToken);
            return ValueTask.CompletedTask;
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
