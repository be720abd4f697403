namespace VirtShell.Engine.Memory;

public sealed class GuestMemoryException(string message) : Exception(message);

/// <summary>
/// The guest's physical RAM: a set of <see cref="MemoryBlock"/>s. Every CPU backend and every device works on
/// these blocks directly; nothing is ever copied between backends.
/// </summary>
public sealed unsafe class GuestMemory : IDisposable
{
    private readonly List<MemoryBlock> _blocks = [];

    public IReadOnlyList<MemoryBlock> Blocks => _blocks;

    /// <summary>
    /// Raised after a write that did not come from the CPU itself (a loader, a device's DMA, a hook), so that an
    /// interpreter can drop code it decoded from those bytes. The CPU tracks its own stores.
    /// </summary>
    public event Action<ulong, ulong>? ExternalWrite;

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

    public bool IsRam(ulong gpa, ulong length) => FindBlock(gpa)?.Contains(gpa, length) == true;

    public Span<byte> GetSpan(ulong gpa, int length)
    {
        byte* p = TryGetPointer(gpa, (ulong)length);
        if (p == null) throw new GuestMemoryException($"guest physical range 0x{gpa:x}+0x{length:x} is not RAM");
        return new Span<byte>(p, length);
    }

    public void Read(ulong gpa, Span<byte> destination) => GetSpan(gpa, destination.Length).CopyTo(destination);

    public byte[] Read(ulong gpa, int length) => GetSpan(gpa, length).ToArray();

    public void Write(ulong gpa, ReadOnlySpan<byte> source)
    {
        source.CopyTo(GetSpan(gpa, source.Length));
        ExternalWrite?.Invoke(gpa, (ulong)source.Length);
    }

    public void Dispose()
    {
        foreach (var b in _blocks) b.Dispose();
        _blocks.Clear();
    }
}
