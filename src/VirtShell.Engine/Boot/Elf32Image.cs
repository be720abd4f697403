using System.Buffers.Binary;

namespace VirtShell.Engine.Boot;

/// <summary>The loadable parts of a 32-bit x86 ELF executable: where each segment goes and where execution starts.</summary>
internal sealed class Elf32Image
{
    public sealed record Segment(uint FileOffset, uint FileSize, uint PhysicalAddress, uint VirtualAddress, uint MemorySize);

    public required uint Entry { get; init; }
    public required IReadOnlyList<Segment> Segments { get; init; }

    private static ReadOnlySpan<byte> Magic => [0x7F, (byte)'E', (byte)'L', (byte)'F'];

    public static bool IsElf(ReadOnlySpan<byte> image) => image.StartsWith(Magic);

    /// <summary>Parses the headers; a message naming what is wrong is thrown as <see cref="FormatException"/>.</summary>
    public static Elf32Image Parse(ReadOnlySpan<byte> image)
    {
        if (!IsElf(image) || image.Length < 52) throw new FormatException("not an ELF file");
        if (image[4] != 1) throw new FormatException("not a 32-bit ELF file (EI_CLASS is not ELFCLASS32)");
        if (image[5] != 1) throw new FormatException("not a little-endian ELF file");
        ushort type = U16(image, 16), machine = U16(image, 18);
        if (type != 2) throw new FormatException($"not an executable ELF file (e_type {type})");
        if (machine != 3) throw new FormatException($"not an x86 ELF file (e_machine {machine})");
        uint entry = U32(image, 24), phoff = U32(image, 28);
        ushort phentsize = U16(image, 42), phnum = U16(image, 44);
        if (phentsize < 32 || phoff + (ulong)phnum * phentsize > (ulong)image.Length)
            throw new FormatException("the program headers lie outside the file");

        var segments = new List<Segment>();
        for (int i = 0; i < phnum; i++)
        {
            int h = (int)phoff + i * phentsize;
            if (U32(image, h) != 1) continue; // PT_LOAD only
            var segment = new Segment(U32(image, h + 4), U32(image, h + 16), U32(image, h + 12), U32(image, h + 8), U32(image, h + 20));
            if ((ulong)segment.FileOffset + segment.FileSize > (ulong)image.Length)
                throw new FormatException($"segment {i} reaches past the end of the file");
            if (segment.FileSize > segment.MemorySize)
                throw new FormatException($"segment {i} has more bytes in the file than in memory");
            segments.Add(segment);
        }
        if (segments.Count == 0) throw new FormatException("no loadable segment");
        return new Elf32Image { Entry = entry, Segments = segments };
    }

    /// <summary>The entry point as a physical address: kernels linked high give a virtual entry inside a segment loaded low.</summary>
    public uint PhysicalEntry =>
        Segments.FirstOrDefault(s => Entry >= s.VirtualAddress && Entry - s.VirtualAddress < s.MemorySize) is { } s
            ? Entry - s.VirtualAddress + s.PhysicalAddress
            : Entry;

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
}
