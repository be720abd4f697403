using System.Buffers.Binary;
using System.Text;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Boot;

namespace VirtShell.Pc;

/// <summary>
/// The Linux x86 boot protocol (Documentation/arch/x86/boot.rst) without the real-mode setup code: the kernel at its
/// preferred address, the initrd as high as the kernel allows, the command line, and a zero page (struct boot_params)
/// with a setup header and the e820 map. The kernel is either a bzImage (its protected-mode part is loaded; the CPU
/// starts with ESI = the zero page at the 32-bit entry in flat protected mode, paging off, or with
/// <see cref="CpuStartMode.Long"/> at the 64-bit entry 0x200 bytes in) or an uncompressed x86-64 vmlinux ELF (its
/// segments go to their physical addresses and it starts at its ELF entry, startup_64, in long mode; the setup header
/// a bzImage would bring is made up). In long mode the first 4 GiB are identity-mapped.
/// </summary>
public sealed class LinuxBootLoader : IBootLoader
{
    /// <summary>
    /// Guest-physical addresses the loader uses below the kernel: the boot GDT, the zero page (ESI at entry), the
    /// long-mode page tables, and the command line area (its end is exclusive).
    /// </summary>
    public const ulong GdtAddress = 0x5000, ZeroPageAddress = 0x7000, PageTablesAddress = 0x10000, CommandLineAddress = 0x20000, CommandLineAreaEnd = 0x30000;
    /// <summary>Offset of a bzImage's 64-bit entry from its 32-bit one.</summary>
    public const ulong Entry64Offset = 0x200;
    /// <summary>The flat code and data selectors the boot protocol requires (__BOOT_CS, __BOOT_DS).</summary>
    public const ushort BootCodeSelector = 0x10, BootDataSelector = 0x18;

    /// <summary>Protocol 2.06 brought cmdline_size; every kernel of the last fifteen years speaks 2.10 or later.</summary>
    public const ushort MinimumProtocol = 0x0206;

    // Offsets in the zero page (struct boot_params) and in the setup header it embeds.
    private const int AltMemK = 0x1E0, E820Entries = 0x1E8, SetupSects = 0x1F1, BootFlag = 0x1FE, JumpEnd = 0x201, HeaderMagic = 0x202,
        Version = 0x206, TypeOfLoader = 0x210, LoadFlags = 0x211, Code32Start = 0x214, RamdiskImage = 0x218, RamdiskSize = 0x21C,
        CmdLinePtr = 0x228, InitrdAddrMax = 0x22C, KernelAlignment = 0x230, RelocatableKernel = 0x234, CmdlineSize = 0x238,
        XLoadFlags = 0x236, PrefAddress = 0x258, InitSize = 0x260, E820Table = 0x2D0;
    private const int MaxE820Entries = 128;
    private const byte LoadedHigh = 0x01, KernelHas64BitEntry = 0x01, CanBeLoadedAbove4G = 0x02;

    /// <summary>What a vmlinux gets in place of a bzImage's header: x86's COMMAND_LINE_SIZE less the NUL, and a 2 GiB initrd limit.</summary>
    private const uint VmlinuxCommandLineSize = 2047, VmlinuxInitrdAddressMax = 0x7FFF_FFFF;
    private const ushort VmlinuxProtocol = 0x020F;

    /// <inheritdoc/>
    public BootKind Kind => BootKind.Linux;

    /// <inheritdoc/>
    public CpuState Load(BootSpec spec, GuestMemory memory)
    {
        var image = BootLoaders.ReadImage(spec);
        var zeroPage = new byte[4096];
        var (start, end, entry32, entry64) = ElfImage.IsElf(image)
            ? LoadVmlinux(spec, memory, image, zeroPage)
            : LoadBzImage(spec, memory, image, zeroPage);

        zeroPage[TypeOfLoader] = 0xFF; // a loader with no assigned ID
        zeroPage[LoadFlags] = (byte)(zeroPage[LoadFlags] & 0x7F); // no heap: the real-mode setup code never runs
        PutCommandLine(spec, memory, zeroPage);
        PutInitrd(spec, memory, end, zeroPage);
        PutMemoryMap(spec, memory, zeroPage);
        memory.Write(ZeroPageAddress, zeroPage);

        var state = spec.Mode == CpuStartMode.Long
            ? ProtectedModeStart.Long64(memory, PageTablesAddress, entry64, BootCodeSelector, BootDataSelector)
            : ProtectedModeStart.Flat32(entry32 ?? start, BootCodeSelector, BootDataSelector);
        ProtectedModeStart.WriteGdt(memory, GdtAddress, state);
        state.Rsi = ZeroPageAddress;
        state.Rsp = ZeroPageAddress;
        return state;
    }

    /// <summary>The protected-mode part of a bzImage at its load address; its setup header goes into the zero page.</summary>
    private static (ulong Start, ulong End, ulong? Entry32, ulong Entry64) LoadBzImage(BootSpec spec, GuestMemory memory, byte[] image, byte[] zeroPage)
    {
        string name = Path.GetFileName(spec.Image);
        var header = SetupHeader.Parse(image, name, spec.Source);
        if (spec.Mode == CpuStartMode.Long && !header.Has64BitEntry)
            throw new DefinitionException($"'{name}' has no 64-bit entry (boot protocol 2.12 with XLF_KERNEL_64); boot it with mode 'protected'", spec.Source);

        ulong load = header.LoadAddress;
        var kernel = image.AsSpan(header.KernelOffset);
        ulong needed = Math.Max((ulong)kernel.Length, header.MemoryNeeded);
        if (!memory.IsRam(load, needed))
            throw new DefinitionException(
                $"'{name}' needs RAM at 0x{load:x}-0x{load + needed - 1:x} (its init_size); give the machine at least {(load + needed + (1 << 20) - 1) >> 20} MiB", spec.Source);
        memory.Write(load, kernel);
        image.AsSpan(SetupSects, header.HeaderEnd - SetupSects).CopyTo(zeroPage.AsSpan(SetupSects));
        return (load, load + needed, load, load + Entry64Offset);
    }

    /// <summary>
    /// An uncompressed x86-64 kernel: its segments at their physical addresses, a setup header written as the kernel's
    /// own build would (so the kernel finds the command line, initrd and protocol fields where it reads them), and only
    /// the 64-bit entry, since startup_64 is all a vmlinux has.
    /// </summary>
    private static (ulong Start, ulong End, ulong? Entry32, ulong Entry64) LoadVmlinux(BootSpec spec, GuestMemory memory, byte[] image, byte[] zeroPage)
    {
        string name = Path.GetFileName(spec.Image);
        ElfImage elf;
        try { elf = ElfImage.Parse(image, want64Bit: true); }
        catch (FormatException e)
        {
            throw new DefinitionException($"'{name}' is neither a bzImage nor an x86-64 vmlinux: {e.Message}", spec.Source);
        }
        if (spec.Mode != CpuStartMode.Long)
            throw new DefinitionException($"'{name}' is a 64-bit vmlinux, which has only the 64-bit entry; boot it with mode 'long'", spec.Source);
        var (start, end) = elf.LoadInto(memory, image, spec);

        BinaryPrimitives.WriteUInt16LittleEndian(zeroPage.AsSpan(BootFlag), 0xAA55);
        "HdrS"u8.CopyTo(zeroPage.AsSpan(HeaderMagic));
        BinaryPrimitives.WriteUInt16LittleEndian(zeroPage.AsSpan(Version), VmlinuxProtocol);
        zeroPage[LoadFlags] = LoadedHigh;
        Put32(zeroPage, Code32Start, (uint)start);
        Put32(zeroPage, InitrdAddrMax, VmlinuxInitrdAddressMax);
        Put32(zeroPage, KernelAlignment, 0x20_0000);
        BinaryPrimitives.WriteUInt16LittleEndian(zeroPage.AsSpan(XLoadFlags), KernelHas64BitEntry | CanBeLoadedAbove4G);
        Put32(zeroPage, CmdlineSize, VmlinuxCommandLineSize);
        BinaryPrimitives.WriteUInt64LittleEndian(zeroPage.AsSpan(PrefAddress), start);
        Put32(zeroPage, InitSize, (uint)(end - start));
        return (start, end, null, elf.PhysicalEntry);
    }

    private static void PutCommandLine(BootSpec spec, GuestMemory memory, byte[] zeroPage)
    {
        var line = Encoding.UTF8.GetBytes(spec.CommandLine ?? "");
        ulong limit = Math.Min(Get32(zeroPage, CmdlineSize), CommandLineAreaEnd - CommandLineAddress - 1);
        if ((ulong)line.Length > limit)
            throw new DefinitionException($"the kernel command line is {line.Length} bytes; '{Path.GetFileName(spec.Image)}' takes at most {limit}", spec.Source);
        memory.Write(CommandLineAddress, [.. line, 0]);
        Put32(zeroPage, CmdLinePtr, (uint)CommandLineAddress);
    }

    /// <summary>The initrd goes as high as the kernel allows (initrd_addr_max) and RAM reaches, page-aligned, above the kernel.</summary>
    private static void PutInitrd(BootSpec spec, GuestMemory memory, ulong kernelEnd, byte[] zeroPage)
    {
        if (spec.Initrd == null) return;
        byte[] initrd;
        try { initrd = GuestFiles.Read(spec.Initrd, Array.MaxLength, "a byte array can hold"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DefinitionException($"initrd '{spec.Initrd}' cannot be read: {e.Message}", spec.Source);
        }
        var top = PcMemoryMap.For(memory).Where(e => e.Type == MemoryMapType.Ram).Max(e => e.End);
        top = Math.Min(top, (ulong)Get32(zeroPage, InitrdAddrMax) + 1);
        ulong at = (top - (ulong)initrd.Length) & ~0xFFFUL;
        if ((ulong)initrd.Length > top || at < kernelEnd || !memory.IsRam(at, (ulong)initrd.Length))
            throw new DefinitionException(
                $"initrd '{Path.GetFileName(spec.Initrd)}' ({initrd.Length} bytes) does not fit between the kernel (ends at 0x{kernelEnd:x}) and 0x{top:x}; give the machine more memory", spec.Source);
        memory.Write(at, initrd);
        Put32(zeroPage, RamdiskImage, (uint)at);
        Put32(zeroPage, RamdiskSize, (uint)initrd.Length);
    }

    private static void PutMemoryMap(BootSpec spec, GuestMemory memory, byte[] zeroPage)
    {
        var map = PcMemoryMap.For(memory);
        if (map.Count > MaxE820Entries) throw new DefinitionException($"the memory map has {map.Count} ranges; the zero page holds {MaxE820Entries}", spec.Source);
        zeroPage[E820Entries] = (byte)map.Count;
        for (int i = 0; i < map.Count; i++)
        {
            var entry = zeroPage.AsSpan(E820Table + i * 20, 20);
            BinaryPrimitives.WriteUInt64LittleEndian(entry, map[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], map[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[16..], (uint)map[i].Type);
        }
        var (_, upper) = PcMemoryMap.LowerUpperKiB(memory);
        Put32(zeroPage, AltMemK, upper);
    }

    private static void Put32(byte[] buffer, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset), value);
    private static uint Get32(byte[] buffer, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset));

    /// <summary>What the loader reads from a bzImage's setup header, checked.</summary>
    private sealed record SetupHeader(int KernelOffset, int HeaderEnd, ulong LoadAddress, ulong MemoryNeeded, bool Has64BitEntry)
    {
        public static SetupHeader Parse(byte[] image, string name, SourceLocation? source)
        {
            if (image.Length < 0x264 || BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(BootFlag)) != 0xAA55
                || !image.AsSpan(HeaderMagic, 4).SequenceEqual("HdrS"u8))
                throw new DefinitionException($"'{name}' is neither a bzImage nor an x86-64 vmlinux: no setup header (boot flag 55 AA at 0x1FE and 'HdrS' at 0x202) and no ELF magic", source);
            ushort version = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(Version));
            if (version < MinimumProtocol)
                throw new DefinitionException($"'{name}' speaks boot protocol {version >> 8}.{version & 0xFF:D2}; this loader needs {MinimumProtocol >> 8}.{MinimumProtocol & 0xFF:D2} or later", source);
            if ((image[LoadFlags] & LoadedHigh) == 0)
                throw new DefinitionException($"'{name}' is a zImage (loaded low); only bzImage kernels are supported", source);

            int setupSects = image[SetupSects] == 0 ? 4 : image[SetupSects];
            int kernelOffset = (setupSects + 1) * 512;
            if (kernelOffset >= image.Length)
                throw new DefinitionException($"'{name}' claims {setupSects} setup sectors but has no protected-mode kernel after them", source);
            uint U32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(at));
            ulong U64(int at) => BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(at));

            // A relocatable kernel (2.10+) says where it would like to be; others run where code32_start says.
            bool relocatable = version >= 0x020A && image[RelocatableKernel] != 0;
            ulong load = relocatable && U64(PrefAddress) != 0 ? U64(PrefAddress) : U32(Code32Start);
            if (relocatable && U32(KernelAlignment) is uint alignment and > 0 && load % alignment != 0)
                load = (load + alignment - 1) / alignment * alignment;
            return new SetupHeader(
                kernelOffset,
                HeaderEnd: Math.Min(0x202 + image[JumpEnd], 4096),
                load,
                MemoryNeeded: version >= 0x020A ? U32(InitSize) : 0,
                Has64BitEntry: version >= 0x020C && (image[XLoadFlags] & KernelHas64BitEntry) != 0);
        }
    }
}
