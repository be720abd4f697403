using VirtShell.Engine.Console;
using VirtShell.Engine.Memory;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Virtio;

/// <summary>
/// virtio-console with one port (virtio 1.x, 5.3), wired to the machine's console: what the guest sends on transmitq0
/// goes to the console, console input fills the guest's buffers on receiveq0. EMERG_WRITE lets an early guest print a
/// byte with one config-space write, before it has set up any queue.
/// </summary>
public sealed class VirtioConsole : VirtioDevice
{
    public const ushort QueueSize = 128;
    private const int ReceiveQueue = 0, TransmitQueue = 1;
    private const int FeatureEmergencyWrite = 2;
    private const int EmergencyWriteOffset = 8;
    /// <summary>Output taken from the guest per hold of the lock; the rest follows after the console has this.</summary>
    private const int OutputBudget = 64 * 1024;
    private const int ReceiveChunk = 4096;

    private readonly ConsoleChannel _console;
    private readonly byte[] _output = new byte[OutputBudget];
    private int _outputCount;
    private DescriptorChain? _sending;
    private long _sendingOffset;
    private bool _moreToSend;

    public VirtioConsole(string name, GuestMemory memory, ConsoleChannel console, Action<string> log)
        : base(name, memory, queueCount: 2, QueueSize, log)
    {
        _console = console;
        // cols, rows (no SIZE feature: unused), max_nr_ports (no MULTIPORT: unused), emerg_wr.
        ConfigSpace = new byte[12];
        _console.InputAvailable += OnInputAvailable;
    }

    public override uint DeviceId => VirtioDeviceId.Console;
    protected override ulong DeviceSpecificFeatures => VirtioFeatures.Bit(FeatureEmergencyWrite);

    protected override void Process(int index, Virtqueue queue)
    {
        if (index == ReceiveQueue) Receive(queue);
        else if (index == TransmitQueue) Transmit(queue);
    }

    private void Receive(Virtqueue queue)
    {
        var chunk = new byte[ReceiveChunk];
        do
        {
            while (_console.PendingInput > 0 && queue.Pop() is { } chain)
            {
                if (chain.WritableLength == 0) throw new MalformedQueueException("a receive buffer has no device-writable part");
                int n = 0;
                while (n < Math.Min(chain.WritableLength, chunk.Length) && _console.TryReadInput(out var b)) chunk[n++] = b;
                chain.Write(Memory, 0, chunk.AsSpan(0, n));
                queue.PushUsed(chain, (uint)n);
            }
        } while (_console.PendingInput > 0 && queue.ArmNotification());
    }

    /// <summary>Moves up to <see cref="OutputBudget"/> bytes of output from the guest; a chain may span several calls.</summary>
    private void Transmit(Virtqueue queue)
    {
        _moreToSend = false;
        do
        {
            while (true)
            {
                if (_outputCount == _output.Length)
                {
                    _moreToSend = true;
                    return;
                }
                _sending ??= queue.Pop();
                if (_sending == null) break;
                int n = _sending.Read(Memory, _sendingOffset, _output.AsSpan(_outputCount));
                _outputCount += n;
                _sendingOffset += n;
                if (_sendingOffset >= _sending.ReadableLength)
                {
                    queue.PushUsed(_sending, 0);
                    _sending = null;
                    _sendingOffset = 0;
                }
            }
        } while (queue.ArmNotification());
    }

    protected override void OnConfigWrite(int offset, int size, uint value)
    {
        if (offset == EmergencyWriteOffset && IsFeatureNegotiated(FeatureEmergencyWrite) && _outputCount < _output.Length)
            _output[_outputCount++] = (byte)value;
    }

    /// <summary>
    /// Hands output to the console outside the lock (its line handlers run hooks that may send input back), then
    /// takes more if the budget cut a transmission short.
    /// </summary>
    protected override void AfterService()
    {
        while (true)
        {
            byte[] chunk;
            lock (Lock)
            {
                if (_outputCount == 0) return;
                chunk = _output.AsSpan(0, _outputCount).ToArray();
                _outputCount = 0;
            }
            _console.WriteFromGuest(chunk);
            lock (Lock)
            {
                if (!_moreToSend) return;
                Service(TransmitQueue);
            }
        }
    }

    protected override void OnDriverReady() => Service(ReceiveQueue);

    protected override void OnReset()
    {
        _sending = null;
        _sendingOffset = 0;
        _moreToSend = false;
    }

    /// <summary>
    /// Output taken from the guest and not yet given to the console, and the transmit chain being read when a budget
    /// cut it short (with how far). Console input the guest has not taken stays in the console's queue, as for the UART.
    /// </summary>
    protected override void SaveDeviceState(StateWriter writer)
    {
        writer.WriteBytes(_output.AsSpan(0, _outputCount));
        writer.WriteBool(_sending != null);
        if (_sending != null)
        {
            _sending.SaveState(writer);
            writer.WriteInt64(_sendingOffset);
        }
        writer.WriteBool(_moreToSend);
    }

    protected override void RestoreDeviceState(StateReader reader)
    {
        var output = reader.ReadBytes(OutputBudget, "untransmitted console output");
        output.CopyTo(_output);
        _outputCount = output.Length;
        _sending = null;
        _sendingOffset = 0;
        if (reader.ReadBool())
        {
            var queue = Queues[TransmitQueue];
            reader.Check(queue.IsReady, "a transmit chain is held on a queue that is not ready");
            _sending = DescriptorChain.RestoreState(reader, Memory, queue.Size);
            _sendingOffset = reader.ReadInt64();
            reader.Check(_sendingOffset >= 0 && _sendingOffset < _sending.ReadableLength,
                $"the held transmit chain is {_sendingOffset} bytes in, past its {_sending.ReadableLength} readable bytes");
        }
        _moreToSend = reader.ReadBool();
    }

    private void OnInputAvailable()
    {
        lock (Lock) Service(ReceiveQueue);
    }

    public override void Dispose() => _console.InputAvailable -= OnInputAvailable;
}
