using System.Buffers.Binary;
using System.Text;
using VirtShell.Devices.Hypercall;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using Xunit;

namespace VirtShell.Tests.Virtio;

/// <summary>The hypercall ABI of docs/hypercalls.md, driven as a guest would: a request block in RAM, its address OUT to the port.</summary>
public sealed class HypercallTests : IDisposable
{
    private const ushort Port = 0x5650;
    private const ulong Block = 0x1000, Text = 0x2000, Buffer = 0x3000, RamEnd = 0x10000;

    private readonly GuestMemory _memory = new();
    private readonly IoPortBus _ports = new();
    private readonly List<string> _log = [];
    private readonly List<MachineExit> _exits = [];
    private readonly FixedClock _clock = new(new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero));

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    public HypercallTests()
    {
        _memory.AddRam(0, RamEnd);
        var blobs = new Dictionary<string, byte[]> { ["greeting"] = Encoding.ASCII.GetBytes("hello, guest"), ["empty"] = [] };
        _ports.Register(Port, HypercallChannel.PortCount, new HypercallChannel("hypercalls", _memory, blobs, _log.Add, _exits.Add, _clock), "hypercalls");
    }

    public void Dispose() => _memory.Dispose();

    /// <summary>Writes a request block, performs the call, returns (status, value) from the block.</summary>
    private (long Status, ulong Value) Call(uint call, params ulong[] args)
    {
        var block = _memory.GetSpan(Block, HypercallChannel.BlockSize);
        block.Fill(0xCC);
        BinaryPrimitives.WriteUInt32LittleEndian(block, HypercallChannel.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], call);
        for (int i = 0; i < 5; i++) BinaryPrimitives.WriteUInt64LittleEndian(block[(8 + 8 * i)..], i < args.Length ? args[i] : 0);
        _ports.Write(Port, 4, (uint)Block);
        long status = BinaryPrimitives.ReadInt64LittleEndian(block[48..]);
        Assert.Equal((uint)status, _ports.Read(Port, 4));
        return (status, BinaryPrimitives.ReadUInt64LittleEndian(block[56..]));
    }

    private ulong Put(ulong address, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        _memory.Write(address, bytes);
        return (ulong)bytes.Length;
    }

    [Fact]
    public void Probe_ReturnsTheAbiVersion()
    {
        Assert.Equal((0L, HypercallChannel.AbiVersion), Call(HypercallChannel.CallProbe));
    }

    [Fact]
    public void Log_WritesOneLine_WithControlCharactersDefused()
    {
        ulong n = Put(Text, "booted in 3 ms\nFAKE LINE\x1b[2J\n");
        Assert.Equal(0, Call(HypercallChannel.CallLog, Text, n).Status);
        Assert.Equal(["hypercalls: guest: booted in 3 ms\uFFFDFAKE LINE\uFFFD[2J"], _log);
    }

    [Fact]
    public void Log_RefusesTextOutsideRam_OrTooLong()
    {
        Assert.Equal(HypercallChannel.BadAddress, Call(HypercallChannel.CallLog, RamEnd - 4, 8).Status);
        Assert.Equal(HypercallChannel.BadAddress, Call(HypercallChannel.CallLog, ulong.MaxValue - 2, 8).Status);
        Assert.Equal(HypercallChannel.BadLength, Call(HypercallChannel.CallLog, Text, HypercallChannel.MaxLogBytes + 1).Status);
        Assert.Empty(_log);
    }

    [Fact]
    public void WallClock_IsNanosecondsSinceTheUnixEpoch()
    {
        var (status, value) = Call(HypercallChannel.CallWallClock);
        Assert.Equal(0, status);
        Assert.Equal((ulong)(new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds()) * 1_000_000, value);
    }

    [Fact]
    public void PowerOff_EndsTheMachine_WithTheGuestsStatus()
    {
        Assert.Equal(0, Call(HypercallChannel.CallPowerOff, 42).Status);
        var exit = Assert.Single(_exits);
        Assert.Equal(ExitReason.GuestPowerOff, exit.Reason);
        Assert.Equal(42, exit.Status);
        Call(HypercallChannel.CallPowerOff, unchecked((ulong)-3));
        Assert.Equal(-3, _exits[1].Status);
    }

    [Fact]
    public void ReadBlob_CopiesPieces_AndTellsTheSize()
    {
        ulong name = Put(Text, "greeting");
        _memory.GetSpan(Buffer, 16).Fill(0xEE);
        Assert.Equal((5L, 12UL), Call(HypercallChannel.CallReadBlob, Text, name, Buffer, 5, 0));
        Assert.Equal("hello"u8.ToArray(), _memory.Read(Buffer, 5));
        Assert.Equal(0xEE, _memory.Read(Buffer + 5, 1)[0]);
        Assert.Equal((7L, 12UL), Call(HypercallChannel.CallReadBlob, Text, name, Buffer, 100, 5));
        Assert.Equal(", guest"u8.ToArray(), _memory.Read(Buffer, 7));
        Assert.Equal((0L, 12UL), Call(HypercallChannel.CallReadBlob, Text, name, 0, 0, 0)); // size only
        Assert.Equal((0L, 12UL), Call(HypercallChannel.CallReadBlob, Text, name, Buffer, 100, 12));
        Assert.Equal((0L, 0UL), Call(HypercallChannel.CallReadBlob, Text, Put(Text, "empty"), Buffer, 100, 0));
    }

    [Fact]
    public void ReadBlob_BadRequests_GetErrorCodes_AndWriteNothing()
    {
        ulong name = Put(Text, "greeting");
        _memory.GetSpan(Buffer, 16).Fill(0xEE);
        Assert.Equal(HypercallChannel.NoSuchBlob, Call(HypercallChannel.CallReadBlob, Text, Put(Text, "secret"), Buffer, 16, 0).Status);
        Assert.Equal(HypercallChannel.BadLength, Call(HypercallChannel.CallReadBlob, Text, 0, Buffer, 16, 0).Status);
        Assert.Equal(HypercallChannel.BadLength, Call(HypercallChannel.CallReadBlob, Text, 65, Buffer, 16, 0).Status);
        name = Put(Text, "greeting");
        Assert.Equal(HypercallChannel.BadAddress, Call(HypercallChannel.CallReadBlob, RamEnd - 2, name, Buffer, 16, 0).Status);
        Assert.Equal(HypercallChannel.BadAddress, Call(HypercallChannel.CallReadBlob, Text, name, RamEnd - 4, 16, 0).Status);
        Assert.Equal(HypercallChannel.BadOffset, Call(HypercallChannel.CallReadBlob, Text, name, Buffer, 16, 13).Status);
        Assert.Equal(HypercallChannel.BadOffset, Call(HypercallChannel.CallReadBlob, Text, name, Buffer, 16, ulong.MaxValue).Status);
        Assert.All(_memory.Read(Buffer, 16), b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void UnknownCall_ReturnsUnknownCall()
    {
        Assert.Equal(HypercallChannel.UnknownCall, Call(99).Status);
        Assert.Equal(HypercallChannel.UnknownCall, Call(uint.MaxValue).Status);
    }

    [Fact]
    public void BlockOutsideRam_OrWithoutMagic_IsRefused_ThroughThePortAlone()
    {
        _ports.Write(Port, 4, (uint)(RamEnd - 8));
        Assert.Equal(unchecked((uint)HypercallChannel.BadBlock), _ports.Read(Port, 4));

        var block = _memory.GetSpan(Block, HypercallChannel.BlockSize);
        block.Fill(0x11);
        _ports.Write(Port, 4, (uint)Block);
        Assert.Equal(unchecked((uint)HypercallChannel.BadBlock), _ports.Read(Port, 4));
        Assert.All(_memory.Read(Block, HypercallChannel.BlockSize), b => Assert.Equal(0x11, b)); // not a block: untouched
    }

    [Fact]
    public void NarrowAccesses_DoNothing()
    {
        Put(Text, "x");
        _ports.Write(Port, 1, (uint)Block);
        _ports.Write(Port, 2, (uint)Block);
        Assert.Empty(_log);
        Assert.Equal(0xFFu, _ports.Read(Port, 1));
    }
}
