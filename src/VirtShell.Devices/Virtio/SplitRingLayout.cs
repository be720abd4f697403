using System.Runtime.InteropServices;

namespace VirtShell.Devices.Virtio;

/// <summary>struct virtq_desc (virtio 1.x, 2.7.5): one entry of a descriptor table, direct or indirect.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct VirtqDescriptor
{
    public const int Size = 16;
    public const ushort Next = 1, Write = 2, Indirect = 4;

    public ulong Address;
    public uint Length;
    public ushort Flags;
    public ushort NextIndex;
}

/// <summary>struct virtq_used_elem (2.7.8): the chain a used-ring entry returns and how much the device wrote.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct VirtqUsedElement
{
    public uint Id;
    public uint Length;
}

/// <summary>
/// struct virtq_avail (2.7.6), written by the driver: flags, idx, ring[size], then used_event. The guest may change any
/// field while the device reads it, so every read is a single volatile load.
/// </summary>
internal readonly unsafe struct AvailableRing(byte* area, ushort size)
{
    public const ushort NoInterrupt = 1;

    public static ulong Bytes(ushort size) => 6 + 2UL * size;

    public ushort Flags => Volatile.Read(ref *(ushort*)area);
    public ushort Index => Volatile.Read(ref *(ushort*)(area + 2));
    public ushort Entry(ushort slot) => Volatile.Read(ref *(ushort*)(area + 4 + 2 * (slot % size)));
    public ushort UsedEvent => Volatile.Read(ref *(ushort*)(area + 4 + 2 * size));
}

/// <summary>struct virtq_used (2.7.8), written by the device: flags, idx, ring[size] of elements, then avail_event.</summary>
internal readonly unsafe struct UsedRing(byte* area, ushort size)
{
    public static ulong Bytes(ushort size) => 6 + 8UL * size;

    public ref VirtqUsedElement Entry(ushort slot) => ref ((VirtqUsedElement*)(area + 4))[slot % size];

    /// <summary>Publishes the index with release semantics, so the entries it covers are visible before it.</summary>
    public void PublishIndex(ushort index) => Volatile.Write(ref *(ushort*)(area + 2), index);

    public void PublishAvailEvent(ushort index) => Volatile.Write(ref *(ushort*)(area + 4 + 8 * size), index);
}

/// <summary>The three areas of a split queue, each programmed through a pair of 32-bit address registers.</summary>
public enum VirtqueueArea
{
    Descriptors,
    /// <summary>The available ring ("driver area").</summary>
    Driver,
    /// <summary>The used ring ("device area").</summary>
    Device,
}
