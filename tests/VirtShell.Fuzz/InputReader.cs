using System.Buffers.Binary;

namespace VirtShell.Fuzz;

/// <summary>Reads fuzz input front to back; past its end every read gives zeros, so any input is a whole program.</summary>
internal ref struct InputReader(ReadOnlySpan<byte> input)
{
    private ReadOnlySpan<byte> _rest = input;

    public readonly bool AtEnd => _rest.IsEmpty;

    public byte Byte() => Take(1) is [var b] ? b : (byte)0;

    public ushort UInt16() => (ushort)Little(2);
    public uint UInt24() => (uint)Little(3);
    public uint UInt32() => (uint)Little(4);
    public ulong UInt64() => Little(8);

    /// <summary>Up to <paramref name="count"/> bytes: fewer when the input ends first.</summary>
    public ReadOnlySpan<byte> Bytes(int count) => Take(count);

    private ulong Little(int count)
    {
        Span<byte> padded = stackalloc byte[8];
        padded.Clear();
        Take(count).CopyTo(padded);
        return BinaryPrimitives.ReadUInt64LittleEndian(padded);
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        var taken = _rest[..Math.Min(count, _rest.Length)];
        _rest = _rest[taken.Length..];
        return taken;
    }
}
