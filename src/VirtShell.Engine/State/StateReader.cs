using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace VirtShell.Engine.State;

/// <summary>
/// Reads one section written by <see cref="StateWriter"/>. Every read is bounds-checked and every value a part could
/// not have had is refused with <see cref="StateFormatException"/> naming the section, so a damaged section that
/// passed its checksum still cannot put a device in an impossible state.
/// </summary>
public sealed class StateReader
{
    private readonly ReadOnlyMemory<byte> _data;
    private readonly long _now;
    private int _position;

    /// <param name="section">The section's name, for messages.</param>
    /// <param name="data">The section's bytes.</param>
    /// <param name="now">The <see cref="Stopwatch"/> timestamp every device of one restore measures from.</param>
    public StateReader(string section, ReadOnlyMemory<byte> data, long now)
    {
        Section = section;
        _data = data;
        _now = now;
    }

    /// <summary>A reader measuring from now.</summary>
    public StateReader(string section, ReadOnlyMemory<byte> data) : this(section, data, Stopwatch.GetTimestamp()) { }

    /// <summary>The section being read.</summary>
    public string Section { get; }

    /// <summary>An error about this section.</summary>
    public StateFormatException Error(string problem) => new($"section '{Section}': {problem}");

    /// <summary>Throws <see cref="Error"/> with <paramref name="problem"/> unless <paramref name="ok"/>.</summary>
    public void Check(bool ok, string problem)
    {
        if (!ok) throw Error(problem);
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _data.Length - _position < count) throw Error("it ends early");
        var span = _data.Span.Slice(_position, count);
        _position += count;
        return span;
    }

    /// <summary>One byte.</summary>
    public byte ReadByte() => Take(1)[0];

    /// <summary>A boolean; anything but 0 or 1 is an error.</summary>
    public bool ReadBool()
    {
        byte b = ReadByte();
        Check(b <= 1, $"a flag reads {b}");
        return b == 1;
    }

    /// <summary>A 16-bit value.</summary>
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
    /// <summary>A 32-bit value.</summary>
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    /// <summary>A 64-bit value.</summary>
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
    /// <summary>A signed 32-bit value.</summary>
    public int ReadInt32() => (int)ReadUInt32();
    /// <summary>A signed 64-bit value.</summary>
    public long ReadInt64() => (long)ReadUInt64();
    /// <summary>A 128-bit value.</summary>
    public UInt128 ReadUInt128()
    {
        ulong low = ReadUInt64();
        return new UInt128(ReadUInt64(), low);
    }

    /// <summary>A signed 32-bit value that must lie in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="what"/> names it.</summary>
    public int ReadInt32(int min, int max, string what)
    {
        int value = ReadInt32();
        Check(value >= min && value <= max, $"{what} is {value}, outside {min}..{max}");
        return value;
    }

    /// <summary>Bytes written by <see cref="StateWriter.WriteBytes"/>, at most <paramref name="maxLength"/> of them.</summary>
    public ReadOnlySpan<byte> ReadBytes(int maxLength, string what)
    {
        int length = ReadInt32(0, maxLength, $"the length of {what}");
        return Take(length);
    }

    /// <summary>A string written by <see cref="StateWriter.WriteString"/>.</summary>
    public string ReadString(int maxLength, string what) => Encoding.UTF8.GetString(ReadBytes(maxLength, what));

    /// <summary>A timestamp written by <see cref="StateWriter.WriteTimestamp"/>, as far before this restore as it was before the save.</summary>
    public long ReadTimestamp() => _now - (long)((Int128)ReadInt64() * Stopwatch.Frequency / 1_000_000_000);

    /// <summary>A timestamp written by <see cref="StateWriter.WriteDeadline"/>: <paramref name="never"/> or one as far from now.</summary>
    public long ReadDeadline(long never) => ReadBool() ? never : ReadTimestamp();

    /// <summary>Throws unless every byte was read: a section longer than its reader expects is from another layout.</summary>
    public void End() => Check(_position == _data.Length, $"{_data.Length - _position} bytes are left over");
}
