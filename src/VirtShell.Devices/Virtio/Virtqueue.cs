using System.Runtime.CompilerServices;
using VirtShell.Engine.Memory;

namespace VirtShell.Devices.Virtio;

/// <summary>
/// The guest broke the queue protocol (a descriptor loop, an address outside RAM, ...). The device stops using the
/// queue and asks the driver for a reset; the host goes on.
/// </summary>
public sealed class MalformedQueueException(string message) : Exception(message);

/// <summary>
/// One split virtqueue (virtio 1.x, 2.7) as the device sees it: it takes chains the driver made available and returns
/// them on the used ring. Everything in the rings is written by the guest, possibly while the device reads it, so
/// every index and address is read once, checked, and only then used; a broken rule throws
/// <see cref="MalformedQueueException"/>, never reads or writes outside guest RAM, and never loops unboundedly.
/// </summary>
/// <remarks>Not thread-safe: the owning device serialises all access under its lock.</remarks>
public sealed unsafe class Virtqueue
{
    public const ushort MaxSize = 32768;
    /// <summary>An indirect table longer than this is refused, as QEMU does; it bounds the work one chain costs.</summary>
    public const int MaxIndirectDescriptors = 1024;

    private const ushort DescNext = 1, DescWrite = 2, DescIndirect = 4;
    private const ushort AvailNoInterrupt = 1;
    private const int DescriptorSize = 16;

    private readonly GuestMemory _memory;
    private byte* _desc, _avail, _used;
    private ushort _lastAvail, _usedIdx;
    private bool _indirect, _eventIndex;

    public Virtqueue(GuestMemory memory, ushort maxSize)
    {
        _memory = memory;
        MaxQueueSize = maxSize;
        Reset();
    }

    public ushort MaxQueueSize { get; }

    // What the driver programs through the transport while the queue is not ready.
    public ushort Size { get; set; }
    public ulong DescriptorTable { get; set; }
    public ulong AvailableRing { get; set; }
    public ulong UsedRing { get; set; }

    public bool IsReady { get; private set; }

    public void Reset()
    {
        IsReady = false;
        Size = MaxQueueSize;
        DescriptorTable = AvailableRing = UsedRing = 0;
        _desc = _avail = _used = null;
        _lastAvail = _usedIdx = 0;
    }

    /// <summary>
    /// The driver set QueueReady: checks the layout it programmed and fixes host pointers to the three areas (RAM
    /// blocks never move while a machine exists).
    /// </summary>
    public void Enable(ulong negotiatedFeatures)
    {
        if (Size == 0 || Size > MaxQueueSize || (Size & (Size - 1)) != 0)
            throw new MalformedQueueException($"queue size {Size} is not a power of 2 between 1 and {MaxQueueSize}");
        _desc = Area(DescriptorTable, (ulong)Size * DescriptorSize, 16, "descriptor table");
        _avail = Area(AvailableRing, 6 + 2UL * Size, 2, "available ring");
        _used = Area(UsedRing, 6 + 8UL * Size, 4, "used ring");
        _indirect = (negotiatedFeatures & VirtioFeatures.Bit(VirtioFeatures.IndirectDescriptors)) != 0;
        _eventIndex = (negotiatedFeatures & VirtioFeatures.Bit(VirtioFeatures.EventIndex)) != 0;
        _lastAvail = _usedIdx = 0;
        IsReady = true;
    }

    private byte* Area(ulong gpa, ulong length, ulong alignment, string what)
    {
        if (gpa % alignment != 0) throw new MalformedQueueException($"{what} at 0x{gpa:x} is not {alignment}-byte aligned");
        byte* p = _memory.TryGetPointer(gpa, length);
        if (p == null) throw new MalformedQueueException($"{what} at 0x{gpa:x}+0x{length:x} is not in guest RAM");
        return p;
    }

    private ushort AvailIdx => Volatile.Read(ref *(ushort*)(_avail + 2));
    private ushort UsedEvent => Volatile.Read(ref *(ushort*)(_avail + 4 + 2 * Size));

    /// <summary>True when the driver has made a chain available that the device has not taken yet.</summary>
    public bool HasAvailable
    {
        get
        {
            if (!IsReady) return false;
            ushort pending = (ushort)(AvailIdx - _lastAvail);
            if (pending > Size) throw new MalformedQueueException($"available index ran {pending} entries ahead of the device, more than the queue size {Size}");
            return pending != 0;
        }
    }

    /// <summary>Takes the next available chain, or returns null when there is none.</summary>
    public DescriptorChain? Pop()
    {
        if (!HasAvailable) return null;
        // HasAvailable read the index with acquire semantics, so the ring entry read here is at least as new.
        ushort head = Volatile.Read(ref *(ushort*)(_avail + 4 + 2 * (_lastAvail % Size)));
        _lastAvail++;
        if (head >= Size) throw new MalformedQueueException($"available ring names descriptor {head}, but the table has {Size}");
        return Walk(head);
    }

    private DescriptorChain Walk(ushort head)
    {
        var chain = new DescriptorChain(head);
        byte* table = _desc;
        int tableSize = Size, count = 0;
        bool inIndirect = false, seenWritable = false;
        ulong total = 0;
        uint index = head;
        while (true)
        {
            // A chain can never have more links than its table has entries; more means the guest made a loop.
            if (++count > tableSize)
                throw new MalformedQueueException($"descriptor chain from {head} is longer than its table of {tableSize} (a loop?)");
            byte* d = table + index * DescriptorSize;
            ulong addr = Unsafe.ReadUnaligned<ulong>(d);
            uint len = Unsafe.ReadUnaligned<uint>(d + 8);
            ushort flags = Unsafe.ReadUnaligned<ushort>(d + 12);
            ushort next = Unsafe.ReadUnaligned<ushort>(d + 14);

            if ((flags & DescIndirect) != 0)
            {
                if (!_indirect) throw new MalformedQueueException("indirect descriptor used, but the feature was not negotiated");
                if (inIndirect) throw new MalformedQueueException("indirect descriptor inside an indirect table");
                if ((flags & DescNext) != 0) throw new MalformedQueueException("indirect descriptor also has NEXT set");
                if (len == 0 || len % DescriptorSize != 0 || len / DescriptorSize > MaxIndirectDescriptors)
                    throw new MalformedQueueException($"indirect table length {len} is not a multiple of 16 of at most {MaxIndirectDescriptors} descriptors");
                table = _memory.TryGetPointer(addr, len);
                if (table == null) throw new MalformedQueueException($"indirect table at 0x{addr:x}+0x{len:x} is not in guest RAM");
                tableSize = (int)(len / DescriptorSize);
                inIndirect = true;
                index = 0;
                count = 0;
                continue;
            }

            bool writable = (flags & DescWrite) != 0;
            if (!writable && seenWritable) throw new MalformedQueueException("a device-readable descriptor follows a device-writable one");
            seenWritable |= writable;
            if (len > 0)
            {
                if (!_memory.IsRam(addr, len)) throw new MalformedQueueException($"buffer at 0x{addr:x}+0x{len:x} is not in guest RAM");
                total += len;
                if (total > uint.MaxValue) throw new MalformedQueueException("descriptor chain is longer than 4 GiB in total");
                chain.Add(new GuestBuffer(addr, len), writable);
            }
            if ((flags & DescNext) == 0) return chain;
            index = next;
            if (index >= tableSize) throw new MalformedQueueException($"descriptor names next {next}, but its table has {tableSize}");
        }
    }

    /// <summary>Returns a chain to the driver with the number of bytes the device wrote into it.</summary>
    public void PushUsed(DescriptorChain chain, uint written)
    {
        byte* element = _used + 4 + 8 * (_usedIdx % Size);
        Unsafe.WriteUnaligned(element, (uint)chain.Head);
        Unsafe.WriteUnaligned(element + 4, written);
        _usedIdx++;
        // The element must be visible before the index that publishes it.
        Volatile.Write(ref *(ushort*)(_used + 2), _usedIdx);
    }

    public ushort UsedIndex => _usedIdx;

    /// <summary>
    /// Whether the driver wants an interrupt for what was used since <paramref name="usedBefore"/>: with event
    /// index, only if used_event lies in that stretch (vring_need_event), otherwise unless it set NO_INTERRUPT.
    /// </summary>
    public bool NeedsInterrupt(ushort usedBefore)
    {
        if (_usedIdx == usedBefore) return false;
        // The used index store must be globally visible before the driver's suppression state is read.
        Thread.MemoryBarrier();
        if (_eventIndex) return (ushort)(_usedIdx - UsedEvent - 1) < (ushort)(_usedIdx - usedBefore);
        return (Volatile.Read(ref *(ushort*)_avail) & AvailNoInterrupt) == 0;
    }

    /// <summary>
    /// With event index, asks the driver to notify when it makes the next chain available (avail_event), then says
    /// whether one arrived meanwhile, so the device polls again rather than missing it.
    /// </summary>
    public bool ArmNotification()
    {
        if (!IsReady) return false;
        if (_eventIndex) Volatile.Write(ref *(ushort*)(_used + 4 + 8 * Size), _lastAvail);
        Thread.MemoryBarrier();
        return HasAvailable;
    }
}
