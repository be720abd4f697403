using System.Runtime.CompilerServices;
using VirtShell.Engine.Memory;
using VirtShell.Engine.State;

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

    private readonly GuestMemory _memory;
    private byte* _desc;
    private AvailableRing _avail;
    private UsedRing _used;
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
    public ushort Size { get; private set; }
    public ulong DescriptorTable { get; private set; }
    public ulong AvailableRingAddress { get; private set; }
    public ulong UsedRingAddress { get; private set; }

    public bool IsReady { get; private set; }

    public void Reset()
    {
        IsReady = false;
        Size = MaxQueueSize;
        DescriptorTable = AvailableRingAddress = UsedRingAddress = 0;
        _desc = null;
        _avail = default;
        _used = default;
        _lastAvail = _usedIdx = 0;
    }

    // The queue's layout is fixed once it is ready (4.1.4.3.2, 4.2.2.3): both transports ignore writes to it then.

    public void WriteSize(uint value)
    {
        if (!IsReady) Size = (ushort)Math.Min(value, ushort.MaxValue);
    }

    /// <summary>Sets the low or high half of an area's guest-physical address, as a transport's register pair does.</summary>
    public void WriteAddressHalf(VirtqueueArea area, bool high, uint value)
    {
        if (IsReady) return;
        ulong Merge(ulong old) => high ? old & 0xFFFF_FFFFUL | (ulong)value << 32 : old & 0xFFFF_FFFF_0000_0000UL | value;
        switch (area)
        {
            case VirtqueueArea.Descriptors: DescriptorTable = Merge(DescriptorTable); break;
            case VirtqueueArea.Driver: AvailableRingAddress = Merge(AvailableRingAddress); break;
            case VirtqueueArea.Device: UsedRingAddress = Merge(UsedRingAddress); break;
        }
    }

    public uint ReadAddressHalf(VirtqueueArea area, bool high)
    {
        ulong address = area switch
        {
            VirtqueueArea.Descriptors => DescriptorTable,
            VirtqueueArea.Driver => AvailableRingAddress,
            _ => UsedRingAddress,
        };
        return (uint)(high ? address >> 32 : address);
    }

    /// <summary>
    /// The driver set QueueReady: checks the layout it programmed and fixes host pointers to the three areas (RAM
    /// blocks never move while a machine exists).
    /// </summary>
    public void Enable(ulong negotiatedFeatures)
    {
        Map(negotiatedFeatures);
        _lastAvail = _usedIdx = 0;
        IsReady = true;
    }

    /// <summary>Checks the programmed layout and fixes the host pointers and the feature-dependent rules.</summary>
    private void Map(ulong negotiatedFeatures)
    {
        if (Size == 0 || Size > MaxQueueSize || (Size & (Size - 1)) != 0)
            throw new MalformedQueueException($"queue size {Size} is not a power of 2 between 1 and {MaxQueueSize}");
        _desc = Area(DescriptorTable, (ulong)Size * VirtqDescriptor.Size, 16, "descriptor table");
        _avail = new AvailableRing(Area(AvailableRingAddress, AvailableRing.Bytes(Size), 2, "available ring"), Size);
        _used = new UsedRing(Area(UsedRingAddress, UsedRing.Bytes(Size), 4, "used ring"), Size);
        _indirect = (negotiatedFeatures & VirtioFeatures.Bit(VirtioFeatures.IndirectDescriptors)) != 0;
        _eventIndex = (negotiatedFeatures & VirtioFeatures.Bit(VirtioFeatures.EventIndex)) != 0;
    }

    /// <summary>
    /// Ready, size, the three areas' addresses, and the device's two ring positions: the next available entry it
    /// will take (last_avail_idx) and its used index. The rings themselves, the driver's avail idx, used_event and the
    /// avail_event the device published are in guest RAM, saved with it; whether event index and indirect tables are
    /// on follows from the negotiated features, which the device's state has.
    /// </summary>
    public void SaveState(StateWriter w)
    {
        w.WriteBool(IsReady);
        w.WriteUInt16(Size);
        w.WriteUInt64(DescriptorTable);
        w.WriteUInt64(AvailableRingAddress);
        w.WriteUInt64(UsedRingAddress);
        w.WriteUInt16(_lastAvail);
        w.WriteUInt16(_usedIdx);
    }

    /// <summary>Reads what <see cref="SaveState"/> wrote; a ready queue must still lie in RAM with a valid size.</summary>
    public void RestoreState(StateReader r, ulong negotiatedFeatures)
    {
        Reset();
        bool ready = r.ReadBool();
        Size = r.ReadUInt16();
        DescriptorTable = r.ReadUInt64();
        AvailableRingAddress = r.ReadUInt64();
        UsedRingAddress = r.ReadUInt64();
        ushort lastAvail = r.ReadUInt16(), usedIdx = r.ReadUInt16();
        if (!ready)
        {
            // A queue not yet enabled has taken and used nothing.
            r.Check(lastAvail == 0 && usedIdx == 0, $"a queue that is not ready has ring positions {lastAvail} and {usedIdx}");
            return;
        }
        try
        {
            Map(negotiatedFeatures);
        }
        catch (MalformedQueueException e)
        {
            throw r.Error($"a ready queue cannot be mapped: {e.Message}");
        }
        // The device never takes more than the driver made available, nor returns more than it took.
        r.Check((ushort)(lastAvail - usedIdx) <= Size, $"the queue has used {usedIdx} of {lastAvail} taken, more than its size {Size} apart");
        _lastAvail = lastAvail;
        _usedIdx = usedIdx;
        IsReady = true;
    }

    private byte* Area(ulong gpa, ulong length, ulong alignment, string what)
    {
        if (gpa % alignment != 0) throw new MalformedQueueException($"{what} at 0x{gpa:x} is not {alignment}-byte aligned");
        byte* p = _memory.TryGetPointer(gpa, length);
        if (p == null) throw new MalformedQueueException($"{what} at 0x{gpa:x}+0x{length:x} is not in guest RAM");
        return p;
    }

    /// <summary>True when the driver has made a chain available that the device has not taken yet.</summary>
    public bool HasAvailable
    {
        get
        {
            if (!IsReady) return false;
            ushort pending = (ushort)(_avail.Index - _lastAvail);
            if (pending > Size) throw new MalformedQueueException($"available index ran {pending} entries ahead of the device, more than the queue size {Size}");
            return pending != 0;
        }
    }

    /// <summary>Takes the next available chain, or returns null when there is none.</summary>
    public DescriptorChain? Pop()
    {
        if (!HasAvailable) return null;
        // HasAvailable read the index with acquire semantics, so the ring entry read here is at least as new.
        ushort head = _avail.Entry(_lastAvail);
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
            var d = Unsafe.ReadUnaligned<VirtqDescriptor>(table + index * VirtqDescriptor.Size);
            ulong addr = d.Address;
            uint len = d.Length;
            ushort flags = d.Flags;

            if ((flags & VirtqDescriptor.Indirect) != 0)
            {
                if (!_indirect) throw new MalformedQueueException("indirect descriptor used, but the feature was not negotiated");
                if (inIndirect) throw new MalformedQueueException("indirect descriptor inside an indirect table");
                if ((flags & VirtqDescriptor.Next) != 0) throw new MalformedQueueException("indirect descriptor also has NEXT set");
                if (len == 0 || len % VirtqDescriptor.Size != 0 || len / VirtqDescriptor.Size > MaxIndirectDescriptors)
                    throw new MalformedQueueException($"indirect table length {len} is not a multiple of 16 of at most {MaxIndirectDescriptors} descriptors");
                table = _memory.TryGetPointer(addr, len);
                if (table == null) throw new MalformedQueueException($"indirect table at 0x{addr:x}+0x{len:x} is not in guest RAM");
                tableSize = (int)(len / VirtqDescriptor.Size);
                inIndirect = true;
                index = 0;
                count = 0;
                continue;
            }

            bool writable = (flags & VirtqDescriptor.Write) != 0;
            if (!writable && seenWritable) throw new MalformedQueueException("a device-readable descriptor follows a device-writable one");
            seenWritable |= writable;
            if (len > 0)
            {
                if (!_memory.IsRam(addr, len)) throw new MalformedQueueException($"buffer at 0x{addr:x}+0x{len:x} is not in guest RAM");
                total += len;
                if (total > uint.MaxValue) throw new MalformedQueueException("descriptor chain is longer than 4 GiB in total");
                chain.Add(new GuestBuffer(addr, len), writable);
            }
            if ((flags & VirtqDescriptor.Next) == 0) return chain;
            index = d.NextIndex;
            if (index >= tableSize) throw new MalformedQueueException($"descriptor names next {index}, but its table has {tableSize}");
        }
    }

    /// <summary>Returns a chain to the driver with the number of bytes the device wrote into it.</summary>
    public void PushUsed(DescriptorChain chain, uint written)
    {
        _used.Entry(_usedIdx) = new VirtqUsedElement { Id = chain.Head, Length = written };
        _usedIdx++;
        _used.PublishIndex(_usedIdx);
        _memory.MarkDirty(UsedRingAddress, UsedRing.Bytes(Size));
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
        if (_eventIndex) return (ushort)(_usedIdx - _avail.UsedEvent - 1) < (ushort)(_usedIdx - usedBefore);
        return (_avail.Flags & AvailableRing.NoInterrupt) == 0;
    }

    /// <summary>
    /// With event index, asks the driver to notify when it makes the next chain available (avail_event), then says
    /// whether one arrived meanwhile, so the device polls again rather than missing it.
    /// </summary>
    public bool ArmNotification()
    {
        if (!IsReady) return false;
        if (_eventIndex)
        {
            _used.PublishAvailEvent(_lastAvail);
            _memory.MarkDirty(UsedRingAddress, UsedRing.Bytes(Size));
        }
        Thread.MemoryBarrier();
        return HasAvailable;
    }
}
