using System.Text;
using VirtShell.Engine.Machines;

namespace VirtShell.Engine.Console;

/// <summary>How an attachment ended.</summary>
public enum AttachmentEnd
{
    /// <summary>The detach key was typed; the machine runs on.</summary>
    Detached,
    /// <summary>The machine's run ended and all its output was shown.</summary>
    MachineEnded,
    /// <summary>The caller cancelled (Ctrl+C where the terminal is not raw).</summary>
    Cancelled,
}

/// <summary>
/// A terminal attached to a machine's console through the engine API (<see cref="IMachineControl"/>), as
/// <c>Enter-VirtConsole</c> makes one: the guest's output from an offset on is copied to <c>output</c> as it comes,
/// what is typed on <c>input</c> goes to the guest until the detach key (<see cref="DetachKeys"/>). Every attachment
/// reads by absolute offset, as each console reader does, so any number of them (and Receive-VirtConsole) can watch
/// one machine at once, each getting every byte in order; none holds the guest or another reader up.
/// </summary>
/// <param name="machine">The machine's engine API (its host's socket while it runs).</param>
/// <param name="atRest">The machine's engine API once its host has ended (console.log, read in this process).</param>
/// <param name="input">What is typed (the terminal in raw mode, or a redirected input).</param>
/// <param name="output">Where the guest's output goes, byte for byte.</param>
/// <param name="detach">The detach key's matcher.</param>
public sealed class ConsoleAttachment(IMachineControl machine, Func<IMachineControl> atRest, Stream input, Stream output, DetachKeys detach)
{
    /// <summary>How long one read waits for output before looking again (so a cancellation is seen).</summary>
    private const double ReadWaitSeconds = 0.5;

    private IMachineControl _machine = machine;
    private IMachineControl? _atRest;

    /// <summary>Where the next output byte would start: pass it to the next attachment (or Receive-VirtConsole).</summary>
    public long Next { get; private set; }

    /// <summary>Whether the output shown so far ends inside a line (its last byte is not a line end).</summary>
    public bool EndsMidLine { get; private set; }

    /// <summary>Bytes between the offset asked for and the oldest kept (rotated out of console.log) that were never shown.</summary>
    public long Skipped { get; private set; }

    /// <summary>
    /// Shows output from <paramref name="offset"/> and forwards input until the detach key, the end of the run or
    /// <paramref name="cancel"/>. The end of the input (a redirected file) ends only the typing: the output goes on.
    /// </summary>
    public async Task<AttachmentEnd> RunAsync(long offset, CancellationToken cancel)
    {
        Next = offset;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var typing = TypeAsync(stop.Token);
        var showing = ShowAsync(stop.Token);
        try
        {
            if (await Task.WhenAny(typing, showing).ConfigureAwait(false) == typing && await typing.ConfigureAwait(false))
                return AttachmentEnd.Detached;
            await showing.ConfigureAwait(false);
            return AttachmentEnd.MachineEnded;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return AttachmentEnd.Cancelled;
        }
        finally
        {
            stop.Cancel();
            try { await Task.WhenAll(typing, showing).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>Copies input to the guest; true when the detach key ended it, false at the end of the input or of the run.</summary>
    private async Task<bool> TypeAsync(CancellationToken cancel)
    {
        var buffer = new byte[4096];
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length) + 4];
        while (true)
        {
            int read = await input.ReadAsync(buffer, cancel).ConfigureAwait(false);
            if (read == 0) return false;
            byte[] forward = detach.Filter(buffer.AsSpan(0, read));
            int count = decoder.GetChars(forward, chars, flush: false);
            if (count > 0)
            {
                try
                {
                    await _machine.SendInputAsync(new string(chars, 0, count), cancel).ConfigureAwait(false);
                }
                catch (MachineStateException)
                {
                    return false; // the run has ended: the output side finishes the attachment
                }
            }
            if (detach.Detached) return true;
        }
    }

    /// <summary>Copies output until the run has ended and every byte of it was written.</summary>
    private async Task ShowAsync(CancellationToken cancel)
    {
        while (true)
        {
            ConsoleChunk chunk;
            try
            {
                chunk = await _machine.ReadConsoleAsync(Next, ConsoleReads.Chunk, ReadWaitSeconds, cancel).ConfigureAwait(false);
            }
            catch (MachineStateException) when (_atRest is null)
            {
                _machine = _atRest = atRest(); // the host has ended: console.log has every byte now
                continue;
            }
            if (chunk.Start > Next) Skipped += chunk.Start - Next;
            if (chunk.Bytes.Length > 0)
            {
                await output.WriteAsync(chunk.Bytes, cancel).ConfigureAwait(false);
                await output.FlushAsync(cancel).ConfigureAwait(false);
                EndsMidLine = chunk.Bytes[^1] != (byte)'\n';
            }
            Next = chunk.Next;
            // The state is the one the read began in: once that is at rest, this read had the last bytes.
            if (!chunk.State.IsLive() && !chunk.More) return;
        }
    }
}
