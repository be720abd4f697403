using System.Buffers.Binary;
using System.Text;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Boot;

namespace VirtShell.Pc;

/// <summary>
/// Multiboot v1, as GRUB legacy boots a kernel: an ELF32 kernel (or one whose header gives load addresses), its
/// modules page-aligned after it, and an information structure with the memory map, the command line and the
/// module list. The CPU starts in flat 32-bit protected mode with EAX = 0x2BADB002 and EBX = the structure.
/// </summary>
public sealed class MultibootLoader : IBootLoader
{
    /// <summary>The magic a kernel's Multiboot header starts with, and the one the loader leaves in EAX.</summary>
    public const uint HeaderMagic = 0x1BADB002, BootloaderMagic = 0x2BADB002;

    /// <summary>
    /// Low memory the loader uses for itself: a 4 KiB stack below 0x8000, the GDT, then the information structure with
    /// the memory map and strings after it. A kernel linked there (kvm-unit-tests' realmode.flat loads at 0x8000) gets
    /// the same layout in the 64 KiB after its last module instead, where QEMU puts its Multiboot information too.
    /// </summary>
    public const ulong ReservedStart = 0x7000, StackTop = 0x8000, GdtAddress = 0x8F00, InfoAddress = 0x9000, InfoAreaEnd = 0x9F000;
    private const ulong MovedAreaSize = 0x10000;

    private const uint FlagPageAlignModules = 1 << 0, FlagNeedMemoryInfo = 1 << 1, FlagNeedVideoMode = 1 << 2, FlagAddressesValid = 1 << 16;
    private const uint InfoMemory = 1 << 0, InfoCommandLine = 1 << 2, InfoModules = 1 << 3, InfoMemoryMap = 1 << 6, InfoLoaderName = 1 << 9;
    private const int InfoSize = 120;

    /// <inheritdoc/>
    public BootKind Kind => BootKind.Multiboot;

    /// <inheritdoc/>
    public CpuState Load(BootSpec spec, GuestMemory memory)
    {
        var image = BootLoaders.ReadImage(spec);
        string name = Path.GetFileName(spec.Image);
        var header = FindHeader(image) ?? throw new DefinitionException(
            $"'{name}' is not a Multiboot kernel (no header with magic 0x{HeaderMagic:x8} and a valid checksum in its first 8 KiB)", spec.Source);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(header + 4));
        if ((flags & FlagNeedVideoMode) != 0)
            throw new DefinitionException($"'{name}' asks for a video mode (Multiboot flag 2); VirtShell machines have no display", spec.Source);
        uint unknownRequired = flags & 0xFFFF & ~(FlagPageAlignModules | FlagNeedMemoryInfo | FlagNeedVideoMode);
        if (unknownRequired != 0)
            throw new DefinitionException($"'{name}' requires Multiboot features 0x{unknownRequired:x} this loader does not know", spec.Source);

        var (entry, kernelStart, kernelEnd) = (flags & FlagAddressesValid) != 0
            ? LoadByHeaderAddresses(spec, memory, image, header)
            : LoadElf(spec, memory, image);
        ulong next = Align(kernelEnd, 0x1000);
        var placed = new List<(uint Start, uint End, BootModule Module)>();
        foreach (var module in spec.Modules)
        {
            byte[] bytes = ReadModule(spec, module);
            if (!memory.IsRam(next, (ulong)bytes.Length) || next + (ulong)bytes.Length > uint.MaxValue)
                throw new DefinitionException($"module '{Path.GetFileName(module.Path)}' ({bytes.Length} bytes) does not fit in RAM at 0x{next:x}", spec.Source);
            memory.Write(next, bytes);
            placed.Add(((uint)next, (uint)(next + (ulong)bytes.Length), module));
            next = Align(next + (ulong)bytes.Length, 0x1000);
        }
        ulong area = ReservedStart, areaEnd = InfoAreaEnd;
        if (kernelStart < InfoAreaEnd && next > ReservedStart) // the kernel or its modules
        {
            (area, areaEnd) = (next, next + MovedAreaSize);
            if (!memory.IsRam(area, MovedAreaSize) || areaEnd > uint.MaxValue)
                throw new DefinitionException(
                    $"'{name}' and its modules load at 0x{kernelStart:x}-0x{next - 1:x}, over 0x{ReservedStart:x}-0x{InfoAreaEnd - 1:x}, and the {MovedAreaSize / 1024} KiB after it and its modules for the loader's stack and boot information (0x{area:x}) are not RAM", spec.Source);
        }
        ulong infoAddress = area + (InfoAddress - ReservedStart);

        var info = new InfoWriter(memory, spec, infoAddress, areaEnd);
        var modules = placed.Select(m => (m.Start, m.End, CommandLine: info.String(m.Module.CommandLine ?? m.Module.Path))).ToList();

        var (lower, upper) = PcMemoryMap.LowerUpperKiB(memory);
        var mbi = new byte[InfoSize];
        uint infoFlags = InfoMemory | InfoMemoryMap | InfoLoaderName | InfoModules;
        Put(mbi, 4, lower);
        Put(mbi, 8, upper);
        if (spec.CommandLine != null)
        {
            infoFlags |= InfoCommandLine;
            Put(mbi, 16, info.String(spec.CommandLine));
        }
        Put(mbi, 20, (uint)modules.Count);
        Put(mbi, 24, info.Block(modules.SelectMany(m => new[] { m.Start, m.End, m.CommandLine, 0u }).SelectMany(BitConverter.GetBytes).ToArray()));
        var map = PcMemoryMap.For(memory).SelectMany(e =>
            BitConverter.GetBytes(20u).Concat(BitConverter.GetBytes(e.Base)).Concat(BitConverter.GetBytes(e.Length)).Concat(BitConverter.GetBytes((uint)e.Type))).ToArray();
        Put(mbi, 44, (uint)map.Length);
        Put(mbi, 48, info.Block(map));
        Put(mbi, 64, info.String("VirtShell"));
        Put(mbi, 0, infoFlags);
        memory.Write(infoAddress, mbi);

        var state = ProtectedModeStart.Flat32(entry, 0x08, 0x10);
        ProtectedModeStart.WriteGdt(memory, area + (GdtAddress - ReservedStart), state);
        state.Rax = BootloaderMagic;
        state.Rbx = infoAddress;
        state.Rsp = area + (StackTop - ReservedStart);
        return state;
    }

    /// <summary>The offset of a Multiboot header (magic, flags, checksum summing to zero), 4-byte aligned in the first 8 KiB.</summary>
    public static int? FindHeader(ReadOnlySpan<byte> image)
    {
        for (int at = 0; at + 12 <= Math.Min(image.Length, 8192); at += 4)
        {
            uint magic = BinaryPrimitives.ReadUInt32LittleEndian(image[at..]);
            if (magic != HeaderMagic) continue;
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(image[(at + 4)..]), checksum = BinaryPrimitives.ReadUInt32LittleEndian(image[(at + 8)..]);
            if (unchecked(magic + flags + checksum) == 0) return at;
        }
        return null;
    }

    private static (ulong Entry, ulong Start, ulong End) LoadElf(BootSpec spec, GuestMemory memory, byte[] image)
    {
        ElfImage elf;
        try { elf = ElfImage.Parse(image, want64Bit: false); }
        catch (FormatException e)
        {
            throw new DefinitionException($"'{Path.GetFileName(spec.Image)}': {e.Message}, and its Multiboot header gives no load addresses (flag 16)", spec.Source);
        }
        var (start, end) = elf.LoadInto(memory, image, spec);
        return (elf.PhysicalEntry, start, end);
    }

    /// <summary>The "a.out kludge": header_addr, load_addr, load_end_addr, bss_end_addr and entry_addr say where the file goes.</summary>
    private static (ulong Entry, ulong Start, ulong End) LoadByHeaderAddresses(BootSpec spec, GuestMemory memory, byte[] image, int header)
    {
        uint U(int field) => BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(header + field));
        uint headerAddr = U(12), loadAddr = U(16), loadEndAddr = U(20), bssEndAddr = U(24), entry = U(28);
        string name = Path.GetFileName(spec.Image);
        if (headerAddr < loadAddr || headerAddr - loadAddr > (uint)header)
            throw new DefinitionException($"'{name}': Multiboot header_addr 0x{headerAddr:x} is not inside the image loaded at 0x{loadAddr:x}", spec.Source);
        long fileOffset = header - (headerAddr - loadAddr);
        long length = loadEndAddr == 0 ? image.Length - fileOffset : (long)loadEndAddr - loadAddr;
        if (length < 0 || fileOffset + length > image.Length)
            throw new DefinitionException($"'{name}': Multiboot load_end_addr 0x{loadEndAddr:x} lies beyond the end of the file", spec.Source);
        ulong end = Math.Max((ulong)loadAddr + (ulong)length, bssEndAddr);
        if (!memory.IsRam(loadAddr, end - loadAddr))
            throw new DefinitionException($"'{name}': 0x{loadAddr:x}-0x{end - 1:x} does not fit in the machine's RAM", spec.Source);
        memory.Write(loadAddr, image.AsSpan((int)fileOffset, (int)length));
        memory.Write(loadAddr + (ulong)length, new byte[end - loadAddr - (ulong)length]);
        return (entry, loadAddr, end);
    }

    private static byte[] ReadModule(BootSpec spec, BootModule module)
    {
        try { return GuestFiles.Read(module.Path, Array.MaxLength, "a byte array can hold"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DefinitionException($"module '{module.Path}' cannot be read: {e.Message}", spec.Source);
        }
    }

    private static ulong Align(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);

    private static void Put(byte[] buffer, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset), value);

    /// <summary>Hands out space after the information structure for the strings and tables it points to.</summary>
    private sealed class InfoWriter(GuestMemory memory, BootSpec spec, ulong infoAddress, ulong areaEnd)
    {
        private ulong _next = infoAddress + InfoSize;

        public uint String(string text) => Block([.. Encoding.UTF8.GetBytes(text), 0]);

        public uint Block(byte[] bytes)
        {
            ulong at = Align(_next, 8);
            if (at + (ulong)bytes.Length > areaEnd)
                throw new DefinitionException($"the Multiboot command lines, module list and memory map need more than {areaEnd - infoAddress} bytes", spec.Source);
            memory.Write(at, bytes);
            _next = at + (ulong)bytes.Length;
            return (uint)at;
        }
    }
}
