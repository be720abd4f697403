using VirtShell.Engine.Memory;
using VirtShell.Engine.Boot;

namespace VirtShell.Pc;

/// <summary>One range of the BIOS memory map (e820) as kernels read it.</summary>
public readonly record struct MemoryMapEntry(ulong Base, ulong Length, MemoryMapType Type)
{
    /// <summary>The first address after the range.</summary>
    public ulong End => Base + Length;
}

/// <summary>e820 range types, with e820's numbers.</summary>
public enum MemoryMapType : uint
{
    /// <summary>Usable RAM.</summary>
    Ram = 1,
    /// <summary>Not for the OS.</summary>
    Reserved = 2,
}

/// <summary>
/// The memory map a PC BIOS would report for our RAM: everything usable except the legacy hole from the
/// extended BIOS data area (0x9FC00) to 1 MiB, which real PCs give to VGA, option ROMs and the BIOS.
/// </summary>
public static class PcMemoryMap
{
    /// <summary>
    /// End of conventional RAM (the EBDA starts here) and start of extended RAM, the reserved hole between them.
    /// </summary>
    public const ulong LowRamEnd = 0x9FC00, HighRamStart = 0x100000;

    /// <summary>
    /// The map for <paramref name="memory"/>'s RAM blocks, sorted by address, with the legacy hole reserved.
    /// </summary>
    public static IReadOnlyList<MemoryMapEntry> For(GuestMemory memory)
    {
        var map = new List<MemoryMapEntry>();
        foreach (var block in memory.Blocks)
        {
            Add(map, block.GuestAddress, Math.Min(block.GuestEnd, LowRamEnd), MemoryMapType.Ram);
            Add(map, Math.Max(block.GuestAddress, HighRamStart), block.GuestEnd, MemoryMapType.Ram);
        }
        map.Add(new MemoryMapEntry(LowRamEnd, HighRamStart - LowRamEnd, MemoryMapType.Reserved));
        map.Sort((a, b) => a.Base.CompareTo(b.Base));
        return map;
    }

    /// <summary>KiB of RAM from 0 (at most 640) and from 1 MiB up to the first hole, as Multiboot's mem_lower/mem_upper.</summary>
    public static (uint Lower, uint Upper) LowerUpperKiB(GuestMemory memory)
    {
        ulong lower = 0, upper = HighRamStart;
        foreach (var e in For(memory).Where(e => e.Type == MemoryMapType.Ram))
        {
            if (e.Base == 0) lower = e.End;
            if (e.Base <= upper && e.End > upper) upper = e.End;
        }
        return ((uint)(lower / 1024), (uint)((upper - HighRamStart) / 1024));
    }

    private static void Add(List<MemoryMapEntry> map, ulong start, ulong end, MemoryMapType type)
    {
        if (end > start) map.Add(new MemoryMapEntry(start, end - start, type));
    }
}
