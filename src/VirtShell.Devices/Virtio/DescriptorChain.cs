using VirtShell.Engine.Memory;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Virtio;

/// <summary>One buffer of a chain: a checked range of guest RAM.</summary>
public readonly record struct GuestBuffer(ulong Address, uint Length);

/// <summary>
/// A chain the device took from a queue, already checked: its buffers lie in guest RAM, readable ones first, at most
/// 4 GiB in all. The device reads the driver's request from the readable part and writes its answer into the
/// writable part; both are addressed as one run of bytes, across buffer boundaries.
/// </summary>
public sealed class DescriptorChain
{
    private readonly List<GuestBuffer> _readable = [];
    private readonly List<GuestBuffer> _writable = [];

    internal DescriptorChain(ushort head) => Head = head;

    /// <summary>The head descriptor's index: how the used ring names the chain.</summary>
    public ushort Head { get; }
    public long ReadableLength { get; private set; }
    public long WritableLength { get; private set; }

    internal void Add(GuestBuffer buffer, bool writable)
    {
        if (writable) { _writable.Add(buffer); WritableLength += buffer.Length; }
        else { _readable.Add(buffer); ReadableLength += buffer.Length; }
    }

    /// <summary>A chain a device holds across a save (taken, not yet used): its head and buffers, readable ones first.</summary>
    internal void SaveState(StateWriter w)
    {
        w.WriteUInt16(Head);
        w.WriteInt32(_readable.Count + _writable.Count);
        foreach (var (buffer, writable) in _readable.Select(b => (b, false)).Concat(_writable.Select(b => (b, true))))
        {
            w.WriteUInt64(buffer.Address);
            w.WriteUInt32(buffer.Length);
            w.WriteBool(writable);
        }
    }

    /// <summary>
    /// Reads a chain <see cref="SaveState"/> wrote, held to the rules <see cref="Virtqueue.Pop"/> checks when it takes
    /// one: a head inside the queue, buffers in RAM, readable before writable, at most 4 GiB.
    /// </summary>
    internal static DescriptorChain RestoreState(StateReader r, GuestMemory memory, ushort queueSize)
    {
        ushort head = r.ReadUInt16();
        r.Check(head < queueSize, $"a held chain starts at descriptor {head}, outside the queue of {queueSize}");
        var chain = new DescriptorChain(head);
        int count = r.ReadInt32(0, queueSize + Virtqueue.MaxIndirectDescriptors, "a held chain's buffer count");
        bool seenWritable = false;
        ulong total = 0;
        for (int i = 0; i < count; i++)
        {
            ulong address = r.ReadUInt64();
            uint length = r.ReadUInt32();
            bool writable = r.ReadBool();
            r.Check(writable || !seenWritable, "a held chain has a readable buffer after a writable one");
            r.Check(length > 0 && memory.IsRam(address, length), $"a held chain's buffer at 0x{address:x}+0x{length:x} is not in guest RAM");
            total += length;
            r.Check(total <= uint.MaxValue, "a held chain is longer than 4 GiB");
            seenWritable |= writable;
            chain.Add(new GuestBuffer(address, length), writable);
        }
        return chain;
    }

    /// <summary>Copies readable bytes from <paramref name="offset"/> into <paramref name="destination"/>; returns how many there were.</summary>
    public int Read(GuestMemory memory, long offset, Span<byte> destination)
    {
        int done = 0;
        foreach (var (address, n) in Ranges(_readable, offset, destination.Length))
        {
            memory.GetSpan(address, n).CopyTo(destination[done..]);
            done += n;
        }
        return done;
    }

    /// <summary>
    /// Copies <paramref name="source"/> into the writable part at <paramref name="offset"/>; returns how many bytes
    /// fitted. Goes through <see cref="GuestMemory.Write"/> so an interpreter drops code it decoded from those bytes.
    /// </summary>
    public int Write(GuestMemory memory, long offset, ReadOnlySpan<byte> source)
    {
        int done = 0;
        foreach (var (address, n) in Ranges(_writable, offset, source.Length))
        {
            memory.Write(address, source.Slice(done, n));
            done += n;
        }
        return done;
    }

    private static IEnumerable<(ulong Address, int Length)> Ranges(List<GuestBuffer> buffers, long offset, long length)
    {
        foreach (var b in buffers)
        {
            if (length <= 0) yield break;
            if (offset >= b.Length) { offset -= b.Length; continue; }
            long n = Math.Min(b.Length - offset, length);
            // Chunks of at most 1 GiB so that a span over each fits an int.
            for (long done = 0; done < n; done += 1 << 30)
                yield return (b.Address + (ulong)(offset + done), (int)Math.Min(n - done, 1 << 30));
            length -= n;
            offset = 0;
        }
    }
}
