namespace VirtShell.Engine.Memory;

/// <summary>A guest-physical range that is not RAM, where the caller needed RAM.</summary>
public sealed class GuestMemoryException(string message) : Exception(message);

/// <summary>
/// The guest's physical RAM: a set of <see cref="MemoryBlock"/>s. Every CPU backend and every device works on
/// these blocks directly; nothing is ever copied between backends.
/// </summary>
public sealed unsafe class GuestMemory : IDisposable
{
    private readonly List<MemoryBlock> _blocks = [];

    /// <summary>The RAM blocks, sorted by guest address, never overlapping.</summary>
    public IReadOnlyList<MemoryBlock> Blocks => _blocks;

    /// <summary>
    /// Raised after a write that did not come from the CPU itself (a loader, a device's DMA, a hook), so that an
    /// interpreter can drop code it decoded from those bytes. The CPU tracks its own stores.
    /// </summary>
    public event Action<ulong, ulong>? ExternalWrite;

    /// <summary>Maps <paramref name="size"/> bytes of zeroed RAM at <paramref name="guestAddress"/>; both page-aligned. Not thread-safe: the platform adds RAM before any CPU runs.</summary>
    /// <exception cref="ArgumentException">The range overlaps existing RAM or is not page-aligned.</exception>
    /// <exception cref="OutOfMemoryException">The host would not map it.</exception>
    public MemoryBlock AddRam(ulong guestAddress, ulong size)
    {
        if (_blocks.Any(b => guestAddress < b.GuestEnd && b.GuestAddress < guestAddress + size))
            throw new ArgumentException($"RAM at 0x{guestAddress:x} overlaps an existing region");
        var block = new MemoryBlock(guestAddress, size);
        _blocks.Add(block);
        _blocks.Sort((a, b) => a.GuestAddress.CompareTo(b.GuestAddress));
        return block;
    }

    /// <summary>RAM as the machine was given it: every block's size.</summary>
    public ulong Size => _blocks.Aggregate(0UL, (sum, b) => sum + b.Size);

    /// <summary>The part of <see cref="Size"/> the host holds in RAM now.</summary>
    public ulong ResidentBytes() => _blocks.Aggregate(0UL, (sum, b) => sum + b.ResidentBytes());

    /// <summary>The block holding <paramref name="gpa"/>, or null when it is not RAM.</summary>
    public MemoryBlock? FindBlock(ulong gpa)
    {
        foreach (var b in _blocks)
            if (gpa >= b.GuestAddress && gpa < b.GuestEnd) return b;
        return null;
    }

    /// <summary>A host pointer to <paramref name="length"/> bytes at <paramref name="gpa"/>, or null when the range is not all in one RAM block.</summary>
    public byte* TryGetPointer(ulong gpa, ulong length)
    {
        var b = FindBlock(gpa);
        return b != null && b.Contains(gpa, length) ? b.Host + (gpa - b.GuestAddress) : null;
    }

    /// <summary>Whether all <paramref name="length"/> bytes at <paramref name="gpa"/> are in one RAM block.</summary>
    public bool IsRam(ulong gpa, ulong length) => FindBlock(gpa)?.Contains(gpa, length) == true;

    /// <summary>The guest's bytes themselves, not a copy; valid until <see cref="Dispose"/>. Writing through it does not raise <see cref="ExternalWrite"/>.</summary>
    /// <exception cref="GuestMemoryException">The range is not all in one RAM block.</exception>
    public Span<byte> GetSpan(ulong gpa, int length)
    {
        byte* p = TryGetPointer(gpa, (ulong)length);
        if (p == null) throw new GuestMemoryException($"guest physical range 0x{gpa:x}+0x{length:x} is not RAM");
        return new Span<byte>(p, length);
    }

    /// <summary>Copies guest RAM at <paramref name="gpa"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="GuestMemoryException">The range is not all in one RAM block.</exception>
    public void Read(ulong gpa, Span<byte> destination) => GetSpan(gpa, destination.Length).CopyTo(destination);

    /// <summary>A copy of <paramref name="length"/> bytes of guest RAM at <paramref name="gpa"/>.</summary>
    /// <exception cref="GuestMemoryException">The range is not all in one RAM block.</exception>
    public byte[] Read(ulong gpa, int length) => GetSpan(gpa, length).ToArray();

    /// <summary>Copies <paramref name="source"/> into guest RAM and raises <see cref="ExternalWrite"/>: the way for anything but the CPU to write.</summary>
    /// <exception cref="GuestMemoryException">The range is not all in one RAM block.</exception>
    public void Write(ulong gpa, ReadOnlySpan<byte> source)
    {
        source.CopyTo(GetSpan(gpa, source.Length));
        MarkDirty(gpa, (ulong)source.Length);
        ExternalWrite?.Invoke(gpa, (ulong)source.Length);
    }

    /// <summary>
    /// For a writer that stored through <see cref="GetSpan"/> or <see cref="TryGetPointer"/> (a virtqueue's used
    /// ring): marks the pages written in the dirty log, when one runs. Ranges outside RAM are ignored.
    /// </summary>
    public void MarkDirty(ulong gpa, ulong length)
    {
        if (!_logging) return;
        foreach (var b in _blocks)
            if (gpa < b.GuestEnd && b.GuestAddress < gpa + length)
            {
                ulong start = Math.Max(gpa, b.GuestAddress), end = Math.Min(gpa + length, b.GuestEnd);
                b.MarkDirty(start - b.GuestAddress, end - start);
            }
    }

    private volatile bool _logging;

    /// <summary>
    /// Starts logging which pages are written, every page clean from now on, for pre-copy migration. Every software
    /// writer marks the log: <see cref="Write"/>, <see cref="MarkDirty"/>, and a CPU that stores through a block's host
    /// pointer reads the block's <see cref="MemoryBlock.DirtyLog"/>; a CPU that does not (KVM) needs a log of its own.
    /// </summary>
    public void StartDirtyLog()
    {
        foreach (var b in _blocks) b.StartDirtyLog();
        _logging = true;
        // A store on another thread that found no log may still sit in its core's store buffer; after this barrier
        // it is visible to the reads of the first round that follow, so a store is either read or logged.
        Interlocked.MemoryBarrierProcessWide();
    }

    /// <summary>
    /// The guest-physical page numbers written since the start or the last collection, ascending; the log is emptied.
    /// A store racing the collection is either in this set or in the next one, and its data is visible to reads made
    /// after this returns (a process-wide barrier drains every core's store buffer, the writers' atomic marks order
    /// the rest).
    /// </summary>
    public IReadOnlyList<ulong> CollectDirtyLog()
    {
        var pages = new List<ulong>();
        foreach (var b in _blocks) b.CollectDirtyLog(pages);
        Interlocked.MemoryBarrierProcessWide();
        return pages;
    }

    /// <summary>Stops logging; idempotent.</summary>
    public void StopDirtyLog()
    {
        _logging = false;
        foreach (var b in _blocks) b.StopDirtyLog();
    }

    /// <summary>
    /// Unmaps every block; pointers and spans into them are invalid after. Only once no CPU or device uses the
    /// memory.
    /// </summary>
    public void Dispose()
    {
        foreach (var b in _blocks) b.Dispose();
        _blocks.Clear();
    }
}
