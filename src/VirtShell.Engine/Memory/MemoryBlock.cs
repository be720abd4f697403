using VirtShell.Engine.Native;

namespace VirtShell.Engine.Memory;

/// <summary>
/// One RAM region: page-aligned anonymous host memory from mmap. The interpreter reads it through
/// <see cref="Host"/>, a KVM backend hands the same pointer to KVM_SET_USER_MEMORY_REGION, devices DMA into it.
/// </summary>
public sealed unsafe class MemoryBlock : IDisposable
{
    /// <summary>Host and guest page size; block addresses and sizes are multiples of it.</summary>
    public const ulong PageSize = 4096;

    /// <summary>Guest-physical address of the first byte.</summary>
    public ulong GuestAddress { get; }
    /// <summary>Size in bytes.</summary>
    public ulong Size { get; }
    /// <summary>Host address of the first byte; null once disposed.</summary>
    public byte* Host { get; private set; }
    /// <summary>Guest-physical address after the last byte.</summary>
    public ulong GuestEnd => GuestAddress + Size;

    internal MemoryBlock(ulong guestAddress, ulong size)
    {
        if (guestAddress % PageSize != 0 || size == 0 || size % PageSize != 0)
            throw new ArgumentException($"a RAM region must be page-aligned and a whole number of pages (0x{guestAddress:x}, 0x{size:x})");
        nint p = Libc.mmap(0, (nuint)size, Libc.PROT_READ | Libc.PROT_WRITE,
            Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        if (p == Libc.MAP_FAILED)
            throw new OutOfMemoryException(Libc.Failure($"mmap of {size} bytes of guest memory", Libc.LastError));
        GuestAddress = guestAddress;
        Size = size;
        Host = (byte*)p;
    }

    /// <summary>
    /// How much of the block the host holds in RAM now (mincore): the pages the guest, a loader or a device touched.
    /// The mapping is lazy (MAP_NORESERVE), so a guest that uses little of its RAM costs little.
    /// </summary>
    public ulong ResidentBytes()
    {
        ulong resident = 0;
        foreach (byte page in ResidentPages()) resident += page & 1u;
        return resident * PageSize;
    }

    /// <summary>
    /// A byte per page, bit 0 set where the host holds the page (mincore); a page never touched reads as zero without
    /// being there, which is how a saved state skips the bulk of an idle guest's RAM without reading it. Empty when the
    /// block is released or the call fails.
    /// </summary>
    public byte[] ResidentPages()
    {
        if (Host == null) return [];
        var pages = new byte[Size / PageSize];
        fixed (byte* vector = pages)
            if (Libc.mincore((nint)Host, (nuint)Size, vector) != 0) return [];
        return pages;
    }

    /// <summary>
    /// Whether all <paramref name="length"/> bytes at <paramref name="gpa"/> lie in this block (overflow-safe).
    /// </summary>
    public bool Contains(ulong gpa, ulong length) => gpa >= GuestAddress && length <= Size && gpa - GuestAddress <= Size - length;

    /// <summary>Unmaps the memory; idempotent.</summary>
    public void Dispose()
    {
        if (Host == null) return;
        Libc.munmap((nint)Host, (nuint)Size);
        Host = null;
    }
}
