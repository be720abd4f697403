using System.Buffers.Binary;
using System.Numerics;
using System.Reflection;
using System.Text;

namespace VirtShell.Engine.State;

/// <summary>
/// A machine's saved state as a file holds it (docs/state-format.md): a header (magic, format version, model, engine
/// version, section count, checksum) and named sections, each with its own length and CRC-32C. <see cref="Read"/>
/// checks all of it — magic, version, every length against the file, every checksum, the end marker — before it
/// returns, so a state that is returned is whole; what a section means is for its part to read.
/// </summary>
public sealed class SavedState
{
    /// <summary>The format this build writes, and the newest it reads.</summary>
    public const int FormatVersion = 1;

    private static ReadOnlySpan<byte> Magic => "VSHSTATE"u8;
    private static ReadOnlySpan<byte> EndMagic => "VSHSTEND"u8;
    private const int MaxNameBytes = 1024, MaxHeaderBytes = 64 * 1024;

    private readonly List<(string Name, byte[] Data)> _sections = [];

    /// <param name="model">The machine model that wrote it (<c>emulated</c>...); a restore refuses another.</param>
    public SavedState(string model)
    {
        Model = model;
        EngineVersion = CurrentEngineVersion;
    }

    /// <summary>The model whose machine this is.</summary>
    public string Model { get; }

    /// <summary>The engine version that wrote it, for the record (the format version decides compatibility).</summary>
    public string EngineVersion { get; private init; }

    /// <summary>The engine's own version, as <see cref="EngineVersion"/> records it.</summary>
    public static string CurrentEngineVersion { get; } =
        typeof(SavedState).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(SavedState).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The section names, in file order.</summary>
    public IEnumerable<string> SectionNames => _sections.Select(s => s.Name);

    /// <summary>Adds a section; names are unique.</summary>
    public void Add(string name, ReadOnlySpan<byte> data)
    {
        if (Encoding.UTF8.GetByteCount(name) > MaxNameBytes) throw new ArgumentException($"section name '{name}' is too long", nameof(name));
        if (Find(name) != null) throw new ArgumentException($"section '{name}' is already in the state", nameof(name));
        _sections.Add((name, data.ToArray()));
    }

    /// <summary>The section named <paramref name="name"/>, or null.</summary>
    public byte[]? Find(string name) => _sections.FirstOrDefault(s => s.Name == name).Data;

    /// <summary>Writes the file.</summary>
    public void Write(Stream stream)
    {
        var header = new StateWriter();
        header.WriteString(Model);
        header.WriteString(EngineVersion);
        header.WriteInt32(_sections.Count);
        Span<byte> word = stackalloc byte[8];
        stream.Write(Magic);
        BinaryPrimitives.WriteInt32LittleEndian(word, FormatVersion);
        stream.Write(word[..4]);
        WriteChunk(stream, header.Written);
        foreach (var (name, data) in _sections)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            BinaryPrimitives.WriteUInt16LittleEndian(word, (ushort)nameBytes.Length);
            stream.Write(word[..2]);
            stream.Write(nameBytes);
            BinaryPrimitives.WriteInt64LittleEndian(word, data.Length);
            stream.Write(word);
            BinaryPrimitives.WriteUInt32LittleEndian(word, Crc32C(Crc32C(0, nameBytes), data));
            stream.Write(word[..4]);
            stream.Write(data);
        }
        stream.Write(EndMagic);
    }

    /// <summary>Writes the file at <paramref name="path"/> whole or not at all (a temporary file renamed into place).</summary>
    public void Save(string path)
    {
        string temporary = path + ".partial";
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Write(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Reads and checks the file at <paramref name="path"/>; errors start with its name.</summary>
    /// <exception cref="StateFormatException">The file is not a whole, intact saved state this build can read.</exception>
    public static SavedState Load(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            return Read(file);
        }
        catch (StateFormatException e)
        {
            throw new StateFormatException($"{path}: {e.Message}");
        }
    }

    /// <summary>Reads and checks a saved state.</summary>
    /// <exception cref="StateFormatException">The stream is not a whole, intact saved state this build can read.</exception>
    public static SavedState Read(Stream stream)
    {
        Span<byte> word = stackalloc byte[8];
        if (!TryFill(stream, word) || !word.SequenceEqual(Magic))
            throw new StateFormatException("not a VirtShell saved state (it does not start with VSHSTATE)");
        Fill(stream, word[..4], "the header");
        int version = BinaryPrimitives.ReadInt32LittleEndian(word);
        if (version > FormatVersion)
            throw new StateFormatException($"saved-state format version {version} is newer than this VirtShell reads (up to {FormatVersion}); restore it with the VirtShell that saved it or a newer one");
        if (version < 1) throw new StateFormatException($"saved-state format version {version} does not exist");
        var header = new StateReader("header", ReadChunk(stream, MaxHeaderBytes));
        string model = header.ReadString(MaxNameBytes, "the model name");
        string engine = header.ReadString(MaxNameBytes, "the engine version");
        int count = header.ReadInt32(0, 1 << 20, "the section count");
        header.End();
        var state = new SavedState(model) { EngineVersion = engine };
        for (int i = 0; i < count; i++)
        {
            Fill(stream, word[..2], $"section {i + 1} of {count}");
            var nameBytes = new byte[BinaryPrimitives.ReadUInt16LittleEndian(word)];
            Fill(stream, nameBytes, $"section {i + 1} of {count}");
            string name = Encoding.UTF8.GetString(nameBytes);
            Fill(stream, word, $"section '{name}'");
            long length = BinaryPrimitives.ReadInt64LittleEndian(word);
            if (length < 0 || length > Array.MaxLength || (stream.CanSeek && length > stream.Length - stream.Position))
                throw new StateFormatException($"section '{name}' is truncated or its length ({length}) is corrupt");
            Fill(stream, word[..4], $"section '{name}'");
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(word);
            var data = new byte[length];
            Fill(stream, data, $"section '{name}'");
            if (Crc32C(Crc32C(0, nameBytes), data) != crc)
                throw new StateFormatException($"section '{name}' is corrupt (its checksum does not match)");
            if (state.Find(name) != null) throw new StateFormatException($"section '{name}' appears twice");
            state._sections.Add((name, data));
        }
        if (!TryFill(stream, word) || !word.SequenceEqual(EndMagic))
            throw new StateFormatException($"the file is truncated or corrupt after its {count} sections (no end marker)");
        if (stream.ReadByte() >= 0) throw new StateFormatException("there are bytes after the end marker");
        return state;
    }

    private static void WriteChunk(Stream stream, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(word, data.Length);
        stream.Write(word);
        stream.Write(data);
        BinaryPrimitives.WriteUInt32LittleEndian(word, Crc32C(0, data));
        stream.Write(word);
    }

    private static byte[] ReadChunk(Stream stream, int maxLength)
    {
        Span<byte> word = stackalloc byte[4];
        Fill(stream, word, "the header");
        int length = BinaryPrimitives.ReadInt32LittleEndian(word);
        if (length < 0 || length > maxLength) throw new StateFormatException($"the header's length ({length}) is corrupt");
        var data = new byte[length];
        Fill(stream, data, "the header");
        Fill(stream, word, "the header");
        if (Crc32C(0, data) != BinaryPrimitives.ReadUInt32LittleEndian(word))
            throw new StateFormatException("the header is corrupt (its checksum does not match)");
        return data;
    }

    private static void Fill(Stream stream, Span<byte> buffer, string where)
    {
        if (!TryFill(stream, buffer)) throw new StateFormatException($"the file is truncated: it ends inside {where}");
    }

    private static bool TryFill(Stream stream, Span<byte> buffer) => stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) == buffer.Length;

    /// <summary>CRC-32C (Castagnoli), the polynomial x86 computes in hardware, continued from <paramref name="crc"/>.</summary>
    internal static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return ~crc;
    }
}
