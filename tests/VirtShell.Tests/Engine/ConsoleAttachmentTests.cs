using System.Text;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;

namespace VirtShell.Tests.Engine;

/// <summary>
/// Enter-VirtConsole's logic apart from the terminal: the detach key filter, and an attachment copying a machine's
/// output and typing into it through the engine API.
/// </summary>
public class ConsoleAttachmentTests
{
    private static readonly byte CtrlBracket = DetachKeys.CtrlCloseBracket[0];

    [Fact]
    public void Bytes_before_the_detach_key_go_to_the_guest_and_none_after_it()
    {
        var keys = new DetachKeys(DetachKeys.CtrlCloseBracket);
        Assert.Equal("ls\r"u8.ToArray(), keys.Filter("ls\r"u8));
        Assert.False(keys.Detached);
        Assert.Equal("x\u0003"u8.ToArray(), keys.Filter([(byte)'x', 0x03, CtrlBracket, (byte)'y']));
        Assert.True(keys.Detached);
        Assert.Empty(keys.Filter("more"u8));
    }

    [Fact]
    public void A_sequence_split_across_reads_detaches_and_a_broken_one_is_typed_for_the_guest()
    {
        var keys = new DetachKeys([0x10, 0x11]); // Ctrl+P Ctrl+Q, docker's
        Assert.Equal("a"u8.ToArray(), keys.Filter([(byte)'a', 0x10]));
        Assert.Equal(new byte[] { 0x10, (byte)'b' }, keys.Filter([(byte)'b']));
        Assert.Equal(new byte[] { 0x10 }, keys.Filter([0x10, 0x10])); // the second may start the sequence
        Assert.False(keys.Detached);
        Assert.Empty(keys.Filter([0x11]));
        Assert.True(keys.Detached);
    }

    [Fact]
    public async Task Output_is_copied_until_the_detach_key_and_the_machine_runs_on()
    {
        var machine = new FakeConsole();
        machine.Print("boot\r\n");
        var output = new MemoryStream();
        var input = new MemoryStream([.. "echo hi\r"u8, CtrlBracket, .. "lost"u8]);
        var attachment = new ConsoleAttachment(machine, () => machine, input, output, new DetachKeys(DetachKeys.CtrlCloseBracket));

        var end = await attachment.RunAsync(0, CancellationToken.None);

        Assert.Equal(AttachmentEnd.Detached, end);
        Assert.Equal("echo hi\r", machine.Typed.ToString());
        Assert.Equal(MachineState.Running, await machine.GetStateAsync(default));
        // The detach may come before the first read: what was shown is a start of the output, never more.
        Assert.StartsWith(Encoding.UTF8.GetString(output.ToArray()), "boot\r\n", StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_end_of_the_input_leaves_the_output_running_until_the_machine_stops_and_two_attachments_get_every_byte()
    {
        var machine = new FakeConsole();
        var outputs = new[] { new MemoryStream(), new MemoryStream() };
        var runs = outputs.Select(o => new ConsoleAttachment(machine, () => machine, new MemoryStream(), o, new DetachKeys(DetachKeys.CtrlCloseBracket))
            .RunAsync(0, CancellationToken.None)).ToArray();
        var expected = new StringBuilder();
        for (int i = 1; i <= 2000; i++)
        {
            string line = $"line {i:00000}\r\n";
            expected.Append(line);
            machine.Print(line);
            if (i % 100 == 0) await Task.Delay(1);
        }
        machine.Stop();

        Assert.Equal([AttachmentEnd.MachineEnded, AttachmentEnd.MachineEnded], await Task.WhenAll(runs));
        foreach (var output in outputs) Assert.Equal(expected.ToString(), Encoding.UTF8.GetString(output.ToArray()));
    }

    [Fact]
    public async Task Cancelling_ends_the_attachment_and_where_it_stopped_is_kept()
    {
        var machine = new FakeConsole();
        machine.Print("prompt> ");
        var output = new MemoryStream();
        var attachment = new ConsoleAttachment(machine, () => machine, new BlockingInput(), output, new DetachKeys(DetachKeys.CtrlCloseBracket));
        using var cancel = new CancellationTokenSource();
        var run = attachment.RunAsync(0, cancel.Token);
        while (output.Length == 0) await Task.Delay(10);
        cancel.Cancel();

        Assert.Equal(AttachmentEnd.Cancelled, await run);
        Assert.Equal(8, attachment.Next);
        Assert.True(attachment.EndsMidLine);
    }

    /// <summary>Input that never comes, but honours cancellation (as the terminal's poll does).</summary>
    private sealed class BlockingInput : MemoryStream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
    }

    /// <summary>A machine's console as the engine API serves it: output by absolute offset with a wait, input recorded.</summary>
    private sealed class FakeConsole : IMachineControl
    {
        private readonly List<byte> _output = [];
        private MachineState _state = MachineState.Running;
        public StringBuilder Typed { get; } = new();

        public void Print(string text)
        {
            lock (_output)
            {
                _output.AddRange(Encoding.UTF8.GetBytes(text));
                Monitor.PulseAll(_output);
            }
        }

        public void Stop()
        {
            lock (_output)
            {
                _state = MachineState.Stopped;
                Monitor.PulseAll(_output);
            }
        }

        public Task<MachineState> GetStateAsync(CancellationToken cancel) { lock (_output) return Task.FromResult(_state); }

        public Task<ConsoleChunk> ReadConsoleAsync(long offset, int maxBytes, double waitSeconds, CancellationToken cancel) => Task.Run(() =>
        {
            lock (_output)
            {
                var state = _state;
                if (_output.Count <= offset && state.IsLive()) Monitor.Wait(_output, TimeSpan.FromSeconds(waitSeconds));
                state = _state;
                int count = (int)Math.Clamp(_output.Count - offset, 0, maxBytes);
                byte[] bytes = _output.GetRange((int)offset, count).ToArray();
                return new ConsoleChunk(offset, bytes, offset + count, offset + count < _output.Count, state);
            }
        }, cancel);

        public Task SendInputAsync(string text, CancellationToken cancel)
        {
            lock (_output)
            {
                if (!_state.IsLive()) throw new MachineStateException("not running");
                Typed.Append(text);
            }
            return Task.CompletedTask;
        }

        public Task<bool> StopAsync(bool turnOff, double timeoutSeconds, CancellationToken cancel) => throw new NotSupportedException();
        public Task PauseAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task ResumeAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task<MachineMeasurement> MeasureAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task<ConsoleLineResult> ReadLinesAsync(ConsoleLineQuery query, CancellationToken cancel) => throw new NotSupportedException();
        public Task<int> ExecuteAsync(GuestCommand command, IProgress<GuestOutputLine> output, CancellationToken cancel) => throw new NotSupportedException();
        public Task<MachineState> WaitForStateAsync(MachineState[] states, double timeoutSeconds, CancellationToken cancel) => throw new NotSupportedException();
        public Task<VirtShell.Engine.Checkpoints.MachineCheckpoint> CheckpointAsync(string? name, CancellationToken cancel) => throw new NotSupportedException();
        public Task RestoreCheckpointAsync(string name, CancellationToken cancel) => throw new NotSupportedException();
        public Task ExportAsync(string path, CancellationToken cancel) => throw new NotSupportedException();
        public Task<double> MoveAsync(string model, CancellationToken cancel) => throw new NotSupportedException();
        public Task<string?> StartPreCopyAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task<byte[]?> NextPreCopyPieceAsync(CancellationToken cancel) => throw new NotSupportedException();
        public Task<VirtShell.Engine.Migration.PreCopyPause> PausePreCopyAsync(CancellationToken cancel) => throw new NotSupportedException();
    }
}
