using VirtShell.Engine.Native;

namespace VirtShell.Engine.Memory;

/// <summary>
/// One RAM region: page-aligned anonymous host memory from mmap. The interpreter reads it through
/// <see cref="Host"/>, a KVM backend hands the same pointer to KVM_SET_USER_MEMORY_REGION, devices DMA into it.
/// </summary>
public sealed unsafe class MemoryBlock : IDisposable
{
    public const ulong PageSize = 4096;

    public ulong GuestAddress { get; }
    public ulong Size { get; }
    public byte* Host { get; private set; }
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
        if (Host == null) return 0;
        var pages = new byte[Size / PageSize];
        fixed (byte* vector = pages)
            if (Libc.mincore((nint)Host, (nuint)Size, vector) != 0) return 0;
        ulong resident = 0;
        foreach (byte page in pages) resident += page & 1u;
        return resident * PageSize;
    }

    public bool Contains(ulong gpa, ulong length) => gpa >= GuestAddress && length <= Size && gpa - GuestAddress <= Size - length;

    public void Dispose()
    {
        if (Host == null) return;
        Libc.munmap((nint)Host, (nuint)Size);
        Host = null;
    }
}
