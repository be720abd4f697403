using System.Buffers.Binary;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Boot;

namespace VirtShell.Pc;

/// <summary>
/// The loadable parts of an x86 ELF executable, 32-bit (Multiboot kernels) or 64-bit (an x86-64 vmlinux): where each
/// segment goes and where execution starts.
/// </summary>
internal sealed class ElfImage
{
    public sealed record Segment(ulong FileOffset, ulong FileSize, ulong PhysicalAddress, ulong VirtualAddress, ulong MemorySize);

    public required bool Is64Bit { get; init; }
    public required ulong Entry { get; init; }
    public required IReadOnlyList<Segment> Segments { get; init; }

    private const byte Class32 = 1, Class64 = 2;
    private const ushort MachineX86 = 3, MachineX86_64 = 62;

    private static ReadOnlySpan<byte> Magic => [0x7F, (byte)'E', (byte)'L', (byte)'F'];

    public static bool IsElf(ReadOnlySpan<byte> image) => image.StartsWith(Magic);

    public static bool IsElf64(ReadOnlySpan<byte> image) => IsElf(image) && image.Length > 4 && image[4] == Class64;

    /// <summary>Parses the headers of a 32-bit (x86) or 64-bit (x86-64) executable; what is wrong is thrown as <see cref="FormatException"/>.</summary>
    public static ElfImage Parse(ReadOnlySpan<byte> image, bool want64Bit)
    {
        if (!IsElf(image) || image.Length < 52) throw new FormatException("not an ELF file");
        bool is64 = image[4] == Class64;
        if (image[4] != (want64Bit ? Class64 : Class32))
            throw new FormatException($"not a {(want64Bit ? 64 : 32)}-bit ELF file (EI_CLASS is {image[4]})");
        if (image[5] != 1) throw new FormatException("not a little-endian ELF file");
        if (is64 && image.Length < 64) throw new FormatException("the ELF header is cut short");
        ushort type = U16(image, 16), machine = U16(image, 18);
        if (type != 2) throw new FormatException($"not an executable ELF file (e_type {type})");
        if (machine != (is64 ? MachineX86_64 : MachineX86))
            throw new FormatException($"not an {(is64 ? "x86-64" : "x86")} ELF file (e_machine {machine})");

        // The 64-bit header widens entry and phoff; the program header moves p_flags up front and widens the rest.
        ulong entry = is64 ? U64(image, 24) : U32(image, 24), phoff = is64 ? U64(image, 32) : U32(image, 28);
        ushort phentsize = U16(image, is64 ? 54 : 42), phnum = U16(image, is64 ? 56 : 44);
        if (phentsize < (is64 ? 56 : 32) || phoff + (ulong)phnum * phentsize > (ulong)image.Length)
            throw new FormatException("the program headers lie outside the file");

        var segments = new List<Segment>();
        for (int i = 0; i < phnum; i++)
        {
            int h = (int)phoff + i * phentsize;
            if (U32(image, h) != 1) continue; // PT_LOAD only
            var segment = is64
                ? new Segment(U64(image, h + 8), U64(image, h + 32), U64(image, h + 24), U64(image, h + 16), U64(image, h + 40))
                : new Segment(U32(image, h + 4), U32(image, h + 16), U32(image, h + 12), U32(image, h + 8), U32(image, h + 20));
            if (segment.FileOffset > (ulong)image.Length || segment.FileSize > (ulong)image.Length - segment.FileOffset)
                throw new FormatException($"segment {i} reaches past the end of the file");
            if (segment.FileSize > segment.MemorySize)
                throw new FormatException($"segment {i} has more bytes in the file than in memory");
            segments.Add(segment);
        }
        if (segments.Count == 0) throw new FormatException("no loadable segment");
        return new ElfImage { Is64Bit = is64, Entry = entry, Segments = segments };
    }

    /// <summary>The entry point as a physical address: kernels linked high give a virtual entry inside a segment loaded low.</summary>
    public ulong PhysicalEntry =>
        Segments.FirstOrDefault(s => Entry >= s.VirtualAddress && Entry - s.VirtualAddress < s.MemorySize) is { } s
            ? Entry - s.VirtualAddress + s.PhysicalAddress
            : Entry;

    /// <summary>
    /// Copies every segment to its physical address and zeroes the rest of its memory size (the BSS), checking each
    /// lies in RAM; returns the lowest and highest physical address used.
    /// </summary>
    public (ulong Start, ulong End) LoadInto(GuestMemory memory, ReadOnlySpan<byte> image, BootSpec spec)
    {
        ulong start = ulong.MaxValue, end = 0;
        foreach (var s in Segments) end = Math.Max(end, s.PhysicalAddress + s.MemorySize);
        foreach (var s in Segments)
        {
            if (!memory.IsRam(s.PhysicalAddress, s.MemorySize))
                throw new DefinitionException(
                    $"'{Path.GetFileName(spec.Image)}': a segment of {s.MemorySize} bytes at 0x{s.PhysicalAddress:x} does not fit in the machine's RAM; give the machine at least {(end + (1 << 20) - 1) >> 20} MiB",
                    spec.Source);
            memory.Write(s.PhysicalAddress, image.Slice((int)s.FileOffset, (int)s.FileSize));
            memory.Write(s.PhysicalAddress + s.FileSize, new byte[s.MemorySize - s.FileSize]);
            start = Math.Min(start, s.PhysicalAddress);
        }
        return (start, end);
    }

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
    private static ulong U64(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);
}
