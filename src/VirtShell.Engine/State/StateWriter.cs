using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace VirtShell.Engine.State;

/// <summary>
/// Writes one section of a saved state: little-endian integers, length-prefixed bytes and strings, and host timestamps
/// as their distance from the moment of the save, so that a timer restored later (or in another process, whose
/// <see cref="Stopwatch"/> counts from elsewhere) goes on from where it was.
/// </summary>
public sealed class StateWriter
{
    private readonly MemoryStream _buffer = new();
    private readonly long _now;

    /// <param name="now">The <see cref="Stopwatch"/> timestamp every device of one save measures from.</param>
    public StateWriter(long now) => _now = now;

    /// <summary>A writer measuring from now.</summary>
    public StateWriter() : this(Stopwatch.GetTimestamp()) { }

    /// <summary>What has been written.</summary>
    public ReadOnlySpan<byte> Written => _buffer.GetBuffer().AsSpan(0, (int)_buffer.Length);

    /// <summary>One byte.</summary>
    public void WriteByte(byte value) => _buffer.WriteByte(value);
    /// <summary>A boolean as one byte, 0 or 1.</summary>
    public void WriteBool(bool value) => _buffer.WriteByte(value ? (byte)1 : (byte)0);

    /// <summary>A 16-bit value.</summary>
    public void WriteUInt16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        _buffer.Write(b);
    }

    /// <summary>A 32-bit value.</summary>
    public void WriteUInt32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _buffer.Write(b);
    }

    /// <summary>A 64-bit value.</summary>
    public void WriteUInt64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        _buffer.Write(b);
    }

    /// <summary>A signed 32-bit value.</summary>
    public void WriteInt32(int value) => WriteUInt32((uint)value);
    /// <summary>A signed 64-bit value.</summary>
    public void WriteInt64(long value) => WriteUInt64((ulong)value);
    /// <summary>A 128-bit value, low half first.</summary>
    public void WriteUInt128(UInt128 value)
    {
        WriteUInt64((ulong)value);
        WriteUInt64((ulong)(value >> 64));
    }

    /// <summary>Bytes with their length before them.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteInt32(value.Length);
        _buffer.Write(value);
    }

    /// <summary>A UTF-8 string with its length before it.</summary>
    public void WriteString(string value) => WriteBytes(Encoding.UTF8.GetBytes(value));

    /// <summary>
    /// A <see cref="Stopwatch"/> timestamp, as nanoseconds before the save (negative for one still to come);
    /// <see cref="StateReader.ReadTimestamp"/> turns it into a timestamp as far from the restore.
    /// </summary>
    public void WriteTimestamp(long timestamp) =>
        WriteInt64((long)((Int128)(_now - timestamp) * 1_000_000_000 / Stopwatch.Frequency));

    /// <summary>A timestamp that may be <paramref name="never"/> (a timer that is not armed), kept as it is.</summary>
    public void WriteDeadline(long timestamp, long never)
    {
        WriteBool(timestamp == never);
        if (timestamp != never) WriteTimestamp(timestamp);
    }
}
