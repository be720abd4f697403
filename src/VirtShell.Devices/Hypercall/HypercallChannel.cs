using System.Buffers.Binary;
using System.Text;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Hypercall;

/// <summary>
/// The hypercall channel (docs/hypercalls.md): the guest fills a 64-byte request block in its RAM and writes the
/// block's physical address to a 32-bit port; the call is done, and its result in the block, when the OUT returns.
/// Only memory and a port are involved, so the same guest works on the interpreter and on KVM. Everything in the
/// block is guest input: addresses are checked against RAM, lengths against limits, and a bad call gets an error
/// code, never a host failure.
/// </summary>
public sealed class HypercallChannel : IPortDevice, IDeviceState
{
    public const int PortCount = 4;
    public const int BlockSize = 64;
    public const uint Magic = 0x4348_5356; // "VSHC"
    public const ulong AbiVersion = 1;
    public const int MaxLogBytes = 1024;
    public const int MaxBlobNameBytes = 64;

    // Call numbers.
    public const uint CallProbe = 0, CallLog = 1, CallWallClock = 2, CallPowerOff = 3, CallReadBlob = 4;

    // Status codes: 0 or more is success (a byte count where the call returns one).
    public const long UnknownCall = -1, BadBlock = -2, BadAddress = -3, BadLength = -4, NoSuchBlob = -5, BadOffset = -6;

    private const int MagicOffset = 0, CallOffset = 4, ArgsOffset = 8, StatusOffset = 48, ValueOffset = 56;

    private readonly GuestMemory _memory;
    private readonly IReadOnlyDictionary<string, byte[]> _blobs;
    private readonly Action<string> _log;
    private readonly Action<MachineExit> _powerOff;
    private readonly string _name;
    private readonly TimeProvider _clock;
    private long _lastStatus;

    public HypercallChannel(string name, GuestMemory memory, IReadOnlyDictionary<string, byte[]> blobs, Action<string> log,
        Action<MachineExit> powerOff, TimeProvider? clock = null)
    {
        _name = name;
        _memory = memory;
        _blobs = blobs;
        _log = log;
        _powerOff = powerOff;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>A 32-bit IN reads the low half of the last call's status, for a guest whose block itself was refused.</summary>
    public uint ReadPort(ushort port, int size) => size == 4 ? (uint)Interlocked.Read(ref _lastStatus) : size == 2 ? 0xFFFFu : 0xFFu;

    /// <summary>A 32-bit OUT of a request block's physical address performs the call; narrower writes are ignored.</summary>
    public void WritePort(ushort port, int size, uint value)
    {
        if (size != 4) return;
        if (!_memory.IsRam(value, BlockSize))
        {
            Interlocked.Exchange(ref _lastStatus, BadBlock);
            return;
        }
        var block = _memory.Read(value, BlockSize);
        long status;
        ulong result = 0;
        if (BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(MagicOffset)) != Magic) status = BadBlock;
        else
        {
            uint call = BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(CallOffset));
            var args = new ulong[5];
            for (int i = 0; i < args.Length; i++) args[i] = BinaryPrimitives.ReadUInt64LittleEndian(block.AsSpan(ArgsOffset + 8 * i));
            status = call switch
            {
                CallProbe => Probe(out result),
                CallLog => Log(args[0], args[1]),
                CallWallClock => WallClock(out result),
                CallPowerOff => PowerOff(args[0]),
                CallReadBlob => ReadBlob(args, out result),
                _ => UnknownCall,
            };
        }
        Interlocked.Exchange(ref _lastStatus, status);
        if (status == BadBlock) return; // not a request block: leave the guest's bytes alone
        Span<byte> answer = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(answer, status);
        BinaryPrimitives.WriteUInt64LittleEndian(answer[8..], result);
        _memory.Write(value + StatusOffset, answer);
    }

    /// <summary>
    /// The last call's status, which an IN reads back. A call is done when its OUT returns, so none is ever in flight
    /// at a save; the blobs are the definition's, read again by the restored machine.
    /// </summary>
    public void SaveState(StateWriter writer) => writer.WriteInt64(Interlocked.Read(ref _lastStatus));

    public void RestoreState(StateReader reader)
    {
        long status = reader.ReadInt64();
        reader.Check(status >= BadOffset, $"the last status {status} is no status a call returns");
        Interlocked.Exchange(ref _lastStatus, status);
    }

    private static long Probe(out ulong version)
    {
        version = AbiVersion;
        return 0;
    }

    private long Log(ulong address, ulong length)
    {
        if (length > MaxLogBytes) return BadLength;
        if (!_memory.IsRam(address, length)) return BadAddress;
        var text = Encoding.UTF8.GetString(_memory.GetSpan(address, (int)length)).TrimEnd('\n', '\r');
        // One log line per call: control characters from the guest must not forge more lines or escape sequences.
        var clean = new StringBuilder(text.Length);
        foreach (char c in text) clean.Append(char.IsControl(c) ? '\uFFFD' : c);
        _log($"{_name}: guest: {clean}");
        return 0;
    }

    private long WallClock(out ulong nanoseconds)
    {
        var since = _clock.GetUtcNow() - DateTimeOffset.UnixEpoch;
        nanoseconds = (ulong)since.Ticks * 100;
        return 0;
    }

    private long PowerOff(ulong status)
    {
        _powerOff(new MachineExit(ExitReason.GuestPowerOff, Status: unchecked((int)status), Detail: $"power-off through {_name}"));
        return 0;
    }

    /// <summary>args: name address, name length, buffer address, buffer length, offset in the blob. Returns bytes copied; result is the blob's size.</summary>
    private long ReadBlob(ulong[] args, out ulong size)
    {
        size = 0;
        ulong nameAddress = args[0], nameLength = args[1], buffer = args[2], bufferLength = args[3], offset = args[4];
        if (nameLength is 0 or > MaxBlobNameBytes) return BadLength;
        if (!_memory.IsRam(nameAddress, nameLength)) return BadAddress;
        var name = Encoding.UTF8.GetString(_memory.GetSpan(nameAddress, (int)nameLength));
        if (!_blobs.TryGetValue(name, out var blob)) return NoSuchBlob;
        size = (ulong)blob.Length;
        if (offset > size) return BadOffset;
        ulong count = Math.Min(bufferLength, size - offset);
        if (count == 0) return 0;
        if (!_memory.IsRam(buffer, count)) return BadAddress;
        _memory.Write(buffer, blob.AsSpan((int)offset, (int)count));
        return (long)count;
    }
}
