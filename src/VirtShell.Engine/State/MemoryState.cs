using System.IO.Compression;
using VirtShell.Engine.Memory;

namespace VirtShell.Engine.State;

/// <summary>
/// Guest RAM in a saved state: per RAM block its address and size, the runs of pages that are not all zeros, and
/// those pages in chunks, each Brotli-compressed or stored as it is. Pages the host never mapped (mincore) are zero without being read; resident
/// pages are tested. A restore checks the layout against the machine it fills, writes the runs, and clears every other
/// page the fresh machine had touched (its boot loader's, its MP table's), so RAM ends exactly as saved.
/// </summary>
public static unsafe class MemoryState
{
    /// <summary>The section that holds RAM.</summary>
    public const string Section = "memory";

    private const int PageSize = (int)MemoryBlock.PageSize;

    /// <summary>
    /// Pages go in chunks of at most this many, each compressed on its own with Brotli at quality 1 or, when that does
    /// not make it smaller (noise, compressed data), stored as they are: a chunk of noise then costs a copy both ways
    /// rather than a compressor's time and growth, and a restore decodes every chunk straight into guest RAM.
    /// </summary>
    internal const int ChunkPages = 64;
    private const byte CodecBrotliChunks = 2, ChunkStored = 0, ChunkBrotli = 1;
    private const int BrotliQuality = 1, BrotliWindow = 22;

    /// <summary>Writes every RAM block of <paramref name="memory"/>; chunks are compressed on every core.</summary>
    public static void Save(GuestMemory memory, StateWriter writer)
    {
        writer.WriteInt32(memory.Blocks.Count);
        foreach (var block in memory.Blocks)
        {
            writer.WriteUInt64(block.GuestAddress);
            writer.WriteUInt64(block.Size);
            var runs = NonZeroRuns(block);
            writer.WriteInt32(runs.Count);
            foreach (var (first, count) in runs)
            {
                writer.WriteInt32(first);
                writer.WriteInt32(count);
            }
            writer.WriteByte(CodecBrotliChunks);
            var chunks = Chunks(runs).ToArray();
            var packed = new byte[]?[chunks.Length];
            Parallel.For(0, chunks.Length, i => packed[i] = Compress(block, chunks[i].Offset, chunks[i].Length));
            for (int i = 0; i < chunks.Length; i++)
            {
                writer.WriteByte(packed[i] != null ? ChunkBrotli : ChunkStored);
                writer.WriteBytes(packed[i] ?? new ReadOnlySpan<byte>(block.Host + chunks[i].Offset, chunks[i].Length));
            }
        }
    }

    /// <summary>The chunk compressed, or null when that does not make it smaller.</summary>
    internal static byte[]? Compress(MemoryBlock block, long offset, int length)
    {
        var chunk = new ReadOnlySpan<byte>(block.Host + offset, length);
        // One byte short of the chunk: a result that does not fit is not worth decoding.
        var packed = new byte[length - 1];
        return BrotliEncoder.TryCompress(chunk, packed, out int written, BrotliQuality, BrotliWindow) ? packed[..written] : null;
    }

    /// <summary>The pages of <paramref name="runs"/>, in order, as (byte offset, length) pieces of at most <see cref="ChunkPages"/> pages.</summary>
    private static IEnumerable<(long Offset, int Length)> Chunks(IEnumerable<(int First, int Count)> runs)
    {
        foreach (var (first, count) in runs)
            for (int page = first; page < first + count; page += ChunkPages)
                yield return ((long)page * PageSize, Math.Min(ChunkPages, first + count - page) * PageSize);
    }

    /// <summary>Fills <paramref name="memory"/>, built from the same definition, with what <see cref="Save"/> wrote.</summary>
    public static void Restore(GuestMemory memory, StateReader reader)
    {
        int blocks = reader.ReadInt32(0, 1024, "the number of RAM blocks");
        reader.Check(blocks == memory.Blocks.Count,
            $"it has {blocks} RAM blocks, this machine {memory.Blocks.Count}: the definition's memory or boot files changed since the save");
        foreach (var block in memory.Blocks)
        {
            ulong start = reader.ReadUInt64(), size = reader.ReadUInt64();
            reader.Check(start == block.GuestAddress && size == block.Size,
                $"it has RAM at 0x{start:x}+0x{size:x} where this machine has 0x{block.GuestAddress:x}+0x{block.Size:x}: the definition's memory or boot files changed since the save");
            int pages = (int)(block.Size / MemoryBlock.PageSize);
            int runCount = reader.ReadInt32(0, pages, "the number of page runs");
            var saved = new bool[pages];
            var runs = new (int First, int Count)[runCount];
            int end = 0;
            for (int i = 0; i < runCount; i++)
            {
                int first = reader.ReadInt32(end, pages - 1, "a page run's start");
                int count = reader.ReadInt32(1, pages - first, "a page run's length");
                runs[i] = (first, count);
                Array.Fill(saved, true, first, count);
                end = first + count;
            }
            reader.Check(reader.ReadByte() == CodecBrotliChunks, "its pages are compressed with a method this VirtShell does not know");
            ClearUnsaved(block, saved);
            foreach (var (offset, length) in Chunks(runs))
            {
                var target = new Span<byte>(block.Host + offset, length);
                byte kind = reader.ReadByte();
                var data = reader.ReadBytes(target.Length, "a chunk of pages");
                if (kind == ChunkStored)
                {
                    reader.Check(data.Length == target.Length, "a stored chunk of pages has the wrong length");
                    data.CopyTo(target);
                }
                else
                {
                    reader.Check(kind == ChunkBrotli, $"a chunk of pages has the unknown kind {kind}");
                    reader.Check(BrotliDecoder.TryDecompress(data, target, out int written) && written == target.Length,
                        "a compressed chunk of pages is corrupt or does not fill its pages");
                }
            }
        }
        reader.End();
    }

    /// <summary>Runs of pages holding anything but zeros, as (first page, count).</summary>
    internal static List<(int First, int Count)> NonZeroRuns(MemoryBlock block)
    {
        int pages = (int)(block.Size / MemoryBlock.PageSize);
        var resident = block.ResidentPages();
        var runs = new List<(int, int)>();
        int runStart = -1;
        for (int p = 0; p <= pages; p++)
        {
            // Without mincore's answer every page is read.
            bool data = p < pages && (resident.Length == 0 || (resident[p] & 1) != 0)
                && new ReadOnlySpan<byte>(block.Host + (long)p * PageSize, PageSize).ContainsAnyExcept((byte)0);
            if (data && runStart < 0) runStart = p;
            else if (!data && runStart >= 0)
            {
                runs.Add((runStart, p - runStart));
                runStart = -1;
            }
        }
        return runs;
    }

    /// <summary>Zeros the pages of <paramref name="block"/> the save had as zero but the fresh machine has touched.</summary>
    internal static void ClearUnsaved(MemoryBlock block, bool[] saved)
    {
        var resident = block.ResidentPages();
        for (int p = 0; p < saved.Length; p++)
            if (!saved[p] && (resident.Length == 0 || (resident[p] & 1) != 0))
                new Span<byte>(block.Host + (long)p * PageSize, PageSize).Clear();
    }
}
