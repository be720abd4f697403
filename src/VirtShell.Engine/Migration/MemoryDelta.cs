using System.IO.Compression;
using VirtShell.Engine.Memory;
using VirtShell.Engine.State;

namespace VirtShell.Engine.Migration;

/// <summary>
/// A piece of the pre-copy stream: pages of guest RAM as they are now, in runs of consecutive pages of at most
/// <see cref="MemoryState.ChunkPages"/>, each run all zeros (no data), Brotli-compressed, or stored as it is
/// (docs/state-format.md, "The migration stream"). A receiver applies pieces in the order they were made, so a page
/// sent again in a later round replaces what it had.
/// </summary>
public static unsafe class MemoryDelta
{
    /// <summary>The name a damaged piece is reported under.</summary>
    public const string Section = "memory delta";

    private const uint Magic = 0x444D5356; // "VSMD"
    private const ushort Version = 1;
    private const byte RunZero = 0, RunStored = 1, RunBrotli = 2;
    private const int PageSize = (int)MemoryBlock.PageSize;

    /// <summary>
    /// Encodes <paramref name="pages"/> (ascending guest-physical page numbers, all in RAM) into pieces of about
    /// <paramref name="pieceBytes"/> each, compressing runs on every core.
    /// </summary>
    public static IEnumerable<byte[]> Encode(GuestMemory memory, IReadOnlyList<ulong> pages, int pieceBytes)
    {
        var runs = Runs(memory, pages);
        // Compress a piece's worth of runs at a time: enough to keep the cores busy, few enough to bound memory.
        int runsPerPiece = Math.Max(1, pieceBytes / (MemoryState.ChunkPages * PageSize));
        for (int start = 0; start < runs.Count; start += runsPerPiece)
        {
            var batch = runs.GetRange(start, Math.Min(runsPerPiece, runs.Count - start));
            var packed = new (byte Kind, byte[]? Data)[batch.Count];
            Parallel.For(0, batch.Count, i =>
            {
                var (block, first, count) = batch[i];
                packed[i] = !Pages(block, first, count).ContainsAnyExcept((byte)0) ? (RunZero, null)
                    : MemoryState.Compress(block, (long)first * PageSize, count * PageSize) is { } brotli ? (RunBrotli, brotli)
                    : (RunStored, null);
            });
            var writer = new StateWriter();
            writer.WriteUInt32(Magic);
            writer.WriteUInt16(Version);
            writer.WriteInt32(batch.Sum(r => r.Count));
            writer.WriteInt32(batch.Count);
            for (int i = 0; i < batch.Count; i++)
            {
                var (block, first, count) = batch[i];
                writer.WriteUInt64(block.GuestAddress / MemoryBlock.PageSize + (ulong)first);
                writer.WriteInt32(count);
                writer.WriteByte(packed[i].Kind);
                if (packed[i].Kind == RunBrotli) writer.WriteBytes(packed[i].Data);
                else if (packed[i].Kind == RunStored) writer.WriteBytes(Pages(block, first, count));
            }
            yield return writer.Written.ToArray();
        }
    }

    /// <summary>Writes a piece <see cref="Encode"/> made into <paramref name="memory"/>, laid out as the sender's.</summary>
    /// <exception cref="StateFormatException">The piece is damaged, of another version, or names pages this machine does not have.</exception>
    public static void Apply(GuestMemory memory, ReadOnlyMemory<byte> piece)
    {
        var reader = new StateReader(Section, piece);
        reader.Check(reader.ReadUInt32() == Magic, "it is not a piece of VirtShell's migration stream");
        ushort version = reader.ReadUInt16();
        reader.Check(version == Version, $"it is of version {version} of the migration stream; this VirtShell reads version {Version}");
        int pages = reader.ReadInt32(0, int.MaxValue, "the number of pages"), applied = 0;
        int runs = reader.ReadInt32(0, int.MaxValue, "the number of page runs");
        for (int i = 0; i < runs; i++)
        {
            ulong page = reader.ReadUInt64();
            int count = reader.ReadInt32(1, MemoryState.ChunkPages, "a page run's length");
            byte kind = reader.ReadByte();
            ulong gpa = page * MemoryBlock.PageSize;
            var block = page < ulong.MaxValue / MemoryBlock.PageSize ? memory.FindBlock(gpa) : null;
            reader.Check(block != null && block.Contains(gpa, (ulong)count * MemoryBlock.PageSize),
                $"it has pages 0x{page:x}+{count} where this machine has no RAM: the machines' memory differs");
            var target = Pages(block!, (int)((gpa - block!.GuestAddress) / MemoryBlock.PageSize), count);
            switch (kind)
            {
                case RunZero:
                    target.Clear();
                    break;
                case RunStored:
                    var stored = reader.ReadBytes(target.Length, "a stored page run");
                    reader.Check(stored.Length == target.Length, "a stored page run has the wrong length");
                    stored.CopyTo(target);
                    break;
                case RunBrotli:
                    var data = reader.ReadBytes(target.Length, "a compressed page run");
                    reader.Check(BrotliDecoder.TryDecompress(data, target, out int written) && written == target.Length,
                        "a compressed page run is corrupt or does not fill its pages");
                    break;
                default:
                    throw reader.Error($"a page run has the unknown kind {kind}");
            }
            applied += count;
        }
        reader.Check(applied == pages, $"it says {pages} pages but holds {applied}");
        reader.End();
    }

    /// <summary>How many pages a piece holds, from its header.</summary>
    /// <exception cref="StateFormatException">It is not a piece of this version.</exception>
    public static int PageCount(ReadOnlyMemory<byte> piece)
    {
        var reader = new StateReader(Section, piece);
        reader.Check(reader.ReadUInt32() == Magic && reader.ReadUInt16() == Version, "it is not a piece of this version of VirtShell's migration stream");
        return reader.ReadInt32(0, int.MaxValue, "the number of pages");
    }

    /// <summary>The guest's <paramref name="count"/> pages from page <paramref name="first"/> of <paramref name="block"/>, in place.</summary>
    private static Span<byte> Pages(MemoryBlock block, int first, int count) => new(block.Host + (long)first * PageSize, count * PageSize);

    /// <summary>The pages as runs of consecutive pages inside one block, each at most <see cref="MemoryState.ChunkPages"/> long.</summary>
    private static List<(MemoryBlock Block, int First, int Count)> Runs(GuestMemory memory, IReadOnlyList<ulong> pages)
    {
        var runs = new List<(MemoryBlock, int, int)>();
        MemoryBlock? block = null;
        int first = 0, count = 0;
        foreach (ulong page in pages)
        {
            ulong gpa = page * MemoryBlock.PageSize;
            if (block != null && count < MemoryState.ChunkPages && block.Contains(gpa, MemoryBlock.PageSize)
                && (int)((gpa - block.GuestAddress) / MemoryBlock.PageSize) == first + count)
            {
                count++;
                continue;
            }
            if (block != null) runs.Add((block, first, count));
            block = memory.FindBlock(gpa) ?? throw new ArgumentException($"page 0x{page:x} is not in guest RAM");
            first = (int)((gpa - block.GuestAddress) / MemoryBlock.PageSize);
            count = 1;
        }
        if (block != null) runs.Add((block, first, count));
        return runs;
    }
}
