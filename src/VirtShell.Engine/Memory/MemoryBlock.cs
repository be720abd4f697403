using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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

    private volatile ulong* _dirtyLog;

    /// <summary>
    /// While writes are logged (<see cref="GuestMemory.StartDirtyLog"/>), a bit per page, set by whatever wrote it
    /// (<see cref="MarkDirty(ulong*, ulong)"/>); null otherwise, so a writer pays one load and a branch when no one
    /// looks. Read it afresh for every store: it is volatile so that a loop does not keep an old value.
    /// </summary>
    public ulong* DirtyLog => _dirtyLog;

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

    /// <summary>
    /// Sets page <paramref name="page"/>'s bit in <paramref name="log"/> (a <see cref="DirtyLog"/>), after the data
    /// is stored. A bit already set costs a load; a new one an atomic OR, so that a device thread's bit is not lost to
    /// the CPU's, nor either to a collector clearing the word.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MarkDirty(ulong* log, ulong page)
    {
        ref ulong word = ref log[page >> 6];
        ulong bit = 1UL << (int)(page & 63);
        if ((Volatile.Read(ref word) & bit) == 0) Interlocked.Or(ref word, bit);
    }

    /// <summary>Marks the pages of <paramref name="length"/> bytes at block offset <paramref name="offset"/> written, when writes are logged.</summary>
    public void MarkDirty(ulong offset, ulong length)
    {
        ulong* log = _dirtyLog;
        if (log == null || length == 0) return;
        for (ulong page = offset / PageSize, last = (offset + length - 1) / PageSize; page <= last; page++) MarkDirty(log, page);
    }

    private int LogWords => (int)((Size / PageSize + 63) / 64);

    /// <summary>Begins a log with every page clean; a log already running is emptied.</summary>
    internal void StartDirtyLog()
    {
        ulong* log = (ulong*)NativeMemory.AllocZeroed((nuint)LogWords, sizeof(ulong));
        ulong* old = _dirtyLog;
        _dirtyLog = log;
        // A writer may still hold the old log for the store it is doing; a log is small, and freed with the block.
        if (old != null) _retiredLogs.Add((nint)old);
    }

    private readonly List<nint> _retiredLogs = [];

    /// <summary>
    /// Adds the guest-physical page numbers marked since the start or the last collection to
    /// <paramref name="pages"/>, ascending, clearing each word as it is read (an atomic exchange: a bit set meanwhile
    /// is either taken now or left for the next collection).
    /// </summary>
    internal void CollectDirtyLog(List<ulong> pages)
    {
        ulong* log = _dirtyLog;
        if (log == null) return;
        ulong firstPage = GuestAddress / PageSize;
        for (int w = 0; w < LogWords; w++)
        {
            if (Volatile.Read(ref log[w]) == 0) continue;
            ulong bits = Interlocked.Exchange(ref log[w], 0);
            while (bits != 0)
            {
                int b = System.Numerics.BitOperations.TrailingZeroCount(bits);
                pages.Add(firstPage + (ulong)w * 64 + (ulong)b);
                bits &= bits - 1;
            }
        }
    }

    /// <summary>Ends the log; idempotent.</summary>
    internal void StopDirtyLog()
    {
        ulong* old = _dirtyLog;
        _dirtyLog = null;
        if (old != null) _retiredLogs.Add((nint)old);
    }

    /// <summary>Unmaps the memory; idempotent.</summary>
    public void Dispose()
    {
        StopDirtyLog();
        foreach (nint log in _retiredLogs) NativeMemory.Free((void*)log);
        _retiredLogs.Clear();
        if (Host == null) return;
        Libc.munmap((nint)Host, (nuint)Size);
        Host = null;
    }
}
