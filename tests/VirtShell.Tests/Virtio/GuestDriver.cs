using System.Buffers.Binary;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Virtio;

/// <summary>A descriptor as a test driver lays it out.</summary>
internal readonly record struct Desc(ulong Address, uint Length, ushort Flags = 0, ushort Next = 0)
{
    public const ushort Next_ = 1, Write = 2, Indirect = 4;
}

/// <summary>
/// What a guest's virtio-mmio driver does, by hand: status handshake, feature negotiation, queue setup in guest RAM,
/// chains written straight into the rings (good or deliberately broken), notification and reading the used ring.
/// </summary>
internal sealed class GuestDriver(GuestMemory memory, MmioBus bus, ulong baseAddress)
{
    public const ulong AllCommon = 1UL << 32 | 1UL << 28 | 1UL << 29;

    private readonly Dictionary<int, Ring> _rings = [];

    public sealed class Ring(ushort size, ulong desc, ulong avail, ulong used)
    {
        public ushort Size = size;
        public ulong Desc = desc, Avail = avail, Used = used;
        public ushort NextDesc, AvailIdx, LastUsed;
    }

    public uint Read(int offset) => (uint)bus.Read(baseAddress + (ulong)offset, 4);
    public void Write(int offset, uint value) => bus.Write(baseAddress + (ulong)offset, 4, value);

    public ulong DeviceFeatures()
    {
        Write(0x14, 0);
        ulong low = Read(0x10);
        Write(0x14, 1);
        return low | (ulong)Read(0x10) << 32;
    }

    /// <summary>ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether the device kept FEATURES_OK.</summary>
    public bool Negotiate(ulong features)
    {
        Write(0x70, 0);
        Write(0x70, 1);
        Write(0x70, 3);
        Write(0x24, 0);
        Write(0x20, (uint)features);
        Write(0x24, 1);
        Write(0x20, (uint)(features >> 32));
        Write(0x70, 3 | 8);
        return (Read(0x70) & 8) != 0;
    }

    /// <summary>Places queue <paramref name="index"/> at <paramref name="at"/> (descriptors, then avail, then used, each page-aligned) and makes it ready.</summary>
    public Ring SetupQueue(int index, ushort size, ulong at)
    {
        var ring = PlaceQueue(index, size, at);
        Write(0x30, (uint)index);
        Write(0x38, size);
        Write(0x80, (uint)ring.Desc); Write(0x84, (uint)(ring.Desc >> 32));
        Write(0x90, (uint)ring.Avail); Write(0x94, (uint)(ring.Avail >> 32));
        Write(0xa0, (uint)ring.Used); Write(0xa4, (uint)(ring.Used >> 32));
        Write(0x44, 1);
        return ring;
    }

    /// <summary>Lays out and clears the rings of queue <paramref name="index"/> in RAM, without telling the device (another transport may).</summary>
    public Ring PlaceQueue(int index, ushort size, ulong at)
    {
        var ring = new Ring(size, at, at + 0x1000 * (1 + (ulong)size * 16 / 0x1000), 0);
        ring.Used = ring.Avail + 0x1000 * (1 + (6 + 2UL * size) / 0x1000);
        memory.GetSpan(ring.Desc, (int)(ring.Used + 6 + 8UL * size - ring.Desc)).Clear();
        _rings[index] = ring;
        return ring;
    }

    public void DriverOk() => Write(0x70, Read(0x70) | 4);

    public Ring Queue(int index) => _rings[index];

    public void WriteDescriptor(ulong table, int slot, Desc d)
    {
        var span = memory.GetSpan(table + (ulong)slot * 16, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(span, d.Address);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], d.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[12..], d.Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(span[14..], d.Next);
    }

    /// <summary>Writes the buffers as a chain of consecutive free descriptors (NEXT links added) and makes it available.</summary>
    public ushort AddChain(int queue, params Desc[] buffers)
    {
        var ring = _rings[queue];
        ushort head = ring.NextDesc;
        for (int i = 0; i < buffers.Length; i++)
        {
            ushort slot = (ushort)((head + i) % ring.Size);
            bool more = i + 1 < buffers.Length;
            var d = buffers[i] with
            {
                Flags = (ushort)(buffers[i].Flags | (more ? Desc.Next_ : 0)),
                Next = more ? (ushort)((slot + 1) % ring.Size) : buffers[i].Next,
            };
            WriteDescriptor(ring.Desc, slot, d);
        }
        ring.NextDesc = (ushort)((head + buffers.Length) % ring.Size);
        Publish(queue, head);
        return head;
    }

    /// <summary>Puts <paramref name="head"/> on the available ring and moves its index on.</summary>
    public void Publish(int queue, ushort head)
    {
        var ring = _rings[queue];
        BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(ring.Avail + 4 + 2UL * (ulong)(ring.AvailIdx % ring.Size), 2), head);
        ring.AvailIdx++;
        SetAvailIdx(queue, ring.AvailIdx);
    }

    public void SetAvailIdx(int queue, ushort idx) =>
        BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(_rings[queue].Avail + 2, 2), idx);

    public void SetAvailFlags(int queue, ushort flags) =>
        BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(_rings[queue].Avail, 2), flags);

    public void SetUsedEvent(int queue, ushort value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(memory.GetSpan(_rings[queue].Avail + 4 + 2UL * _rings[queue].Size, 2), value);

    public ushort AvailEvent(int queue) =>
        BinaryPrimitives.ReadUInt16LittleEndian(memory.GetSpan(_rings[queue].Used + 4 + 8UL * _rings[queue].Size, 2));

    public ushort UsedIdx(int queue) => BinaryPrimitives.ReadUInt16LittleEndian(memory.GetSpan(_rings[queue].Used + 2, 2));

    public void Notify(int queue) => Write(0x50, (uint)queue);

    /// <summary>The used elements the device added since the last call.</summary>
    public List<(uint Id, uint Length)> TakeUsed(int queue)
    {
        var ring = _rings[queue];
        var result = new List<(uint, uint)>();
        ushort idx = UsedIdx(queue);
        while (ring.LastUsed != idx)
        {
            var e = memory.GetSpan(ring.Used + 4 + 8UL * (ulong)(ring.LastUsed % ring.Size), 8);
            result.Add((BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..])));
            ring.LastUsed++;
        }
        return result;
    }

    public uint InterruptStatus => Read(0x60);
    public void Acknowledge(uint bits) => Write(0x64, bits);
    public VirtioStatus Status => (VirtioStatus)Read(0x70);
}
