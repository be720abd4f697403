using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Boot;

namespace VirtShell.Pc;

/// <summary>
/// A PC's firmware: the ROM image sits at the top of the 4 GiB space, where the CPU's first fetch (physical
/// FFFFFFF0) finds it, and its last 128 KiB also at the top of the first megabyte (E0000-FFFFF), where real-mode
/// code reaches it once CS is reloaded. The CPU starts in its reset state; what follows is up to the firmware.
/// </summary>
/// <remarks>
/// The low copy lives in RAM, so it is writable: what a chipset's shadow RAM gives a BIOS once it has copied itself
/// there. The high one is a region of its own, outside RAM and below the APIC windows.
/// </remarks>
public sealed class FirmwareLoader : IBootLoader
{
    /// <summary>The largest ROM image accepted, in bytes; a ROM is also a whole number of 64 KiB.</summary>
    public const ulong MaxRomSize = 1 << 20;
    private const ulong FourGiB = 1UL << 32, LowAliasEnd = 0x10_0000, LowAliasMax = 128 << 10;

    /// <inheritdoc/>
    public BootKind Kind => BootKind.Firmware;

    /// <inheritdoc/>
    public IEnumerable<(ulong Start, ulong Length)> Regions(BootSpec spec)
    {
        ulong size = RomSize(spec);
        return [(FourGiB - size, size)];
    }

    /// <inheritdoc/>
    public CpuState Load(BootSpec spec, GuestMemory memory)
    {
        var rom = BootLoaders.ReadImage(spec);
        RomSize(spec, rom.Length);
        memory.Write(FourGiB - (ulong)rom.Length, rom);
        int low = (int)Math.Min((ulong)rom.Length, LowAliasMax);
        if (!memory.IsRam(LowAliasEnd - (ulong)low, (ulong)low))
            throw new DefinitionException($"firmware needs RAM up to 1 MiB for its copy at 0x{LowAliasEnd - (ulong)low:x}: give the machine at least 1M of memory", spec.Source);
        memory.Write(LowAliasEnd - (ulong)low, rom.AsSpan(rom.Length - low));
        return CpuState.Reset();
    }

    private static ulong RomSize(BootSpec spec, long? known = null)
    {
        long size = known ?? new FileInfo(spec.Image).Length;
        if (size == 0 || size % 0x10000 != 0 || (ulong)size > MaxRomSize)
            throw new DefinitionException(
                $"firmware image '{Path.GetFileName(spec.Image)}' is {size} bytes: a ROM is a multiple of 64 KiB, at most {MaxRomSize >> 10} KiB", spec.Source);
        return (ulong)size;
    }
}
