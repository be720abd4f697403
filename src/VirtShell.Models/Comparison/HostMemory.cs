using System.Runtime.InteropServices;
using VirtShell.Engine.Memory;

namespace VirtShell.Models.Comparison;

/// <summary>This process's resident memory, and how much of a guest's RAM is resident, for the overhead column.</summary>
internal static unsafe partial class HostMemory
{
    /// <summary>VmRSS of /proc/self/status, bytes.</summary>
    public static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException("/proc/self/status has no VmRSS line");
    }

    /// <summary>
    /// Bytes of guest RAM the host has pages for (mincore): the part of the process's resident memory that is the
    /// guest's own and so no overhead.
    /// </summary>
    public static long ResidentGuestBytes(GuestMemory? memory)
    {
        if (memory == null) return 0;
        long resident = 0;
        foreach (var block in memory.Blocks)
        {
            ulong pages = (block.Size + MemoryBlock.PageSize - 1) / MemoryBlock.PageSize;
            var vector = new byte[pages];
            fixed (byte* v = vector)
                if (mincore((nint)block.Host, (nuint)block.Size, v) != 0) return 0;
            resident += vector.Count(b => (b & 1) != 0) * (long)MemoryBlock.PageSize;
        }
        return resident;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int mincore(nint addr, nuint length, byte* vector);
}
