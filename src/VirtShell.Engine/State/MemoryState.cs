using System.IO.Compression;
using VirtShell.Engine.Memory;

namespace VirtShell.Engine.State;

/// <summary>
/// Guest RAM in a saved state: per RAM block its address and size, the runs of pages that are not all zeros, and
/// those pages deflated as one stream. Pages the host never mapped (mincore) are zero without being read; resident
/// pages are tested. A restore checks the layout against the machine it fills, writes the runs, and clears every other
/// page the fresh machine had touched (its boot loader's, its MP table's), so RAM ends exactly as saved.
/// </summary>
public static unsafe class MemoryState
{
    /// <summary>The section that holds RAM.</summary>
    public const string Section = "memory";

    private const int PageSize = (int)MemoryBlock.PageSize;

    /// <summary>Deflate at its fastest level: guest RAM is mostly code, tables and zeros, which it shrinks well at any level.</summary>
    private const byte CodecDeflate = 1;

    /// <summary>Writes every RAM block of <paramref name="memory"/>.</summary>
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
            writer.WriteByte(CodecDeflate);
            var compressed = new MemoryStream();
            using (var deflate = new DeflateStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
                foreach (var (first, count) in runs)
                    deflate.Write(new ReadOnlySpan<byte>(block.Host + (long)first * PageSize, count * PageSize));
            writer.WriteBytes(compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        }
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
            reader.Check(reader.ReadByte() == CodecDeflate, "its pages are compressed with a method this VirtShell does not know");
            var compressed = reader.ReadBytes(int.MaxValue, "the compressed pages").ToArray();
            ClearUnsaved(block, saved);
            using var inflate = new DeflateStream(new MemoryStream(compressed), CompressionMode.Decompress);
            try
            {
                foreach (var (first, count) in runs)
                {
                    var target = new Span<byte>(block.Host + (long)first * PageSize, count * PageSize);
                    reader.Check(inflate.ReadAtLeast(target, target.Length, throwOnEndOfStream: false) == target.Length,
                        "its compressed pages end early");
                }
                reader.Check(inflate.ReadByte() < 0, "its compressed pages hold more than its runs");
            }
            catch (InvalidDataException e)
            {
                throw reader.Error($"its compressed pages are corrupt ({e.Message})");
            }
        }
        reader.End();
    }

    /// <summary>Runs of pages holding anything but zeros, as (first page, count).</summary>
    private static List<(int First, int Count)> NonZeroRuns(MemoryBlock block)
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
    private static void ClearUnsaved(MemoryBlock block, bool[] saved)
    {
        var resident = block.ResidentPages();
        for (int p = 0; p < saved.Length; p++)
            if (!saved[p] && (resident.Length == 0 || (resident[p] & 1) != 0))
                new Span<byte>(block.Host + (long)p * PageSize, PageSize).Clear();
    }
}
