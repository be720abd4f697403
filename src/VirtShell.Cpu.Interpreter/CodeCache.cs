using System.Runtime.CompilerServices;
using System.Collections.Concurrent;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// The decoded-block cache. Blocks are keyed by (physical address, EIP, code size) so that relative branch targets
// Iced resolved at decode time stay right. For every RAM page, _codeLines holds a bit per 64-byte line that decoded
// code came from; a store to a marked line drops the blocks overlapping the stored bytes (CodeWritten), and
// GuestMemory.ExternalWrite does the same for loaders and devices. Data next to code on the same page stays cheap.
public sealed unsafe partial class InterpreterCpu
{
    private const int MaxBlockOps = 48;
    private const int FastSlotBits = 15, FastSlots = 1 << FastSlotBits;

    /// <summary>Per 4 KiB page of RAM: a bit per 64-byte line holding decoded code. Pinned, indexed by pointer.</summary>
    private ulong[] _codeLineStore = [];
    private ulong* _codeLines;
    private uint _codeLinePages;
    private readonly Dictionary<uint, List<Block>> _pageBlocks = [];
    /// <summary>The blocks by decoder mode (Code16, Code32, Code64).</summary>
    private readonly Dictionary<(uint Phys, ulong Eip), Block>[] _blocks = [new(BlockKeyComparer.Instance), new(BlockKeyComparer.Instance), new(BlockKeyComparer.Instance)];
    private readonly Block?[] _fastBlocks = new Block?[FastSlots];
    private readonly ConcurrentQueue<(ulong Address, ulong Length)> _externalWrites = new();
    private volatile bool _pendingExternal;
    private readonly FetchReader _reader;
    private readonly List<DecodedOp> _decodeScratch = new(MaxBlockOps);

    /// <summary>The block at CS:EIP, trying the successors recorded on <paramref name="previous"/> before the caches.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private Block NextBlock(Block? previous)
    {
        // Chaining checks the successor's physical address through the 32-bit fetch TLB, which 64-bit code does not use.
        if (previous != null && !_mode64)
        {
            uint linear = (uint)(_segs[SegCs].Base + _eip), phys = linear & _addrMask;
            if (_paging && !TryCachedFetchTranslation(linear, out phys)) return GetBlock();
            var n = previous.Next0;
            if (n != null && n.Eip == _eip && n.Phys == phys && n.Valid && n.Mode == _codeMode && _eip <= _segs[SegCs].Limit) return n;
            n = previous.Next1;
            if (n != null && n.Eip == _eip && n.Phys == phys && n.Valid && n.Mode == _codeMode && _eip <= _segs[SegCs].Limit)
            {
                (previous.Next0, previous.Next1) = (n, previous.Next0);
                return n;
            }
            var b = GetBlock();
            (previous.Next0, previous.Next1) = (b, previous.Next0);
            return b;
        }
        return GetBlock();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Block GetBlock()
    {
        ulong eip = _eip;
        ref var cs = ref _segs[SegCs];
        // 64-bit mode has no CS limit, but RIP must be canonical.
        if (_mode64 ? !Canonical(eip) : eip > cs.Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        ulong linear = _mode64 ? eip : (uint)(cs.Base + eip);
        uint phys = (_paging ? TranslateFetch(linear) : (uint)linear) & _addrMask;
        var key = (phys, eip);
        int slot = (int)(BlockKeyComparer.Mix(key) >> (64 - FastSlotBits));
        var b = _fastBlocks[slot];
        if (b != null && b.Phys == phys && b.Eip == eip && b.Mode == _codeMode && b.Valid) return b;
        var dict = _blocks[_codeMode];
        if (!dict.TryGetValue(key, out b))
        {
            b = DecodeBlock(phys, eip, out bool cacheable);
            if (!cacheable || (b.PhysEnd - 1) >> 12 >= _codeLinePages)
            {
                b.Valid = false; // runs this once: no store would drop it, so nothing may chain to it
                return b;
            }
            dict[key] = b;
            for (uint page = phys >> 12; page <= (b.PhysEnd - 1) >> 12; page++)
            {
                _codeLines[page] |= LinesOf(b, page);
                if (!_pageBlocks.TryGetValue(page, out var list)) _pageBlocks[page] = list = [];
                list.Add(b);
            }
        }
        _fastBlocks[slot] = b;
        return b;
    }

    private Block DecodeBlock(uint phys, ulong eip, out bool cacheable)
    {
        ulong ipMask = _codeMode switch { Code16 => 0xFFFF, Code32 => 0xFFFF_FFFF, _ => ulong.MaxValue };
        _reader.Start(_segs[SegCs].Base, eip, ipMask);
        var decoder = Decoder.Create(_codeMode switch { Code16 => 16, Code32 => 32, _ => 64 }, _reader, eip, DecoderOptions.None);
        var ops = _decodeScratch;
        ops.Clear();
        ulong ip = eip;
        bool wrapped = false;
        while (true)
        {
            Instruction instr;
            try
            {
                decoder.Decode(out instr);
            }
            catch (CpuFault) when (ops.Count > 0)
            {
                // A page fault fetching a later instruction belongs to that instruction: end the block before it.
                cacheable = false;
                return new Block(phys, eip, _codeMode, [.. ops], phys + 1);
            }
            var d = new DecodedOp();
            Prepare(ref d, instr, ipMask, _reader.LastBytes(instr.Length));
            ops.Add(d);
            ulong next = d.NextIp;
            // An instruction running past the end of the code segment wraps to offset 0: its bytes are not contiguous.
            wrapped = next <= ip;
            ip = next;
            // Stop when our length differs from Iced's (x87 escapes): the decoder is no longer at the next instruction.
            bool desync = next != (instr.NextIP & ipMask);
            if (instr.FlowControl != FlowControl.Next || wrapped || desync || ops.Count >= MaxBlockOps) break;
            if ((_segs[SegCs].Base + ip) >> 12 != (_segs[SegCs].Base + eip) >> 12) break;
            if (ip > _segs[SegCs].Limit && !_mode64) break;
        }
        // With paging, bytes past the page of the block's start may map anywhere: such a block is not cached.
        bool crossesPage = _paging && ((_segs[SegCs].Base + eip) & 0xFFF) + (uint)_reader.Count > 0x1000;
        cacheable = _reader.AllRam && !wrapped && !crossesPage;
        uint physEnd = phys + Math.Max((uint)_reader.Count, wrapped ? 0 : (uint)(ip - eip));
        return new Block(phys, eip, _codeMode, [.. ops], physEnd);
    }

    /// <summary>The 64-byte lines of <paramref name="page"/> that block <paramref name="b"/> was decoded from.</summary>
    private static ulong LinesOf(Block b, uint page)
    {
        uint first = Math.Max(b.Phys, page << 12), last = Math.Min(b.PhysEnd - 1, (page << 12) | 0xFFF);
        int lo = (int)((first >> 6) & 63), hi = (int)((last >> 6) & 63);
        ulong upto = hi == 63 ? ulong.MaxValue : (1UL << (hi + 1)) - 1;
        return upto & ~((1UL << lo) - 1);
    }

    /// <summary>Whether a store of <paramref name="size"/> bytes at <paramref name="phys"/> touches a line holding decoded code.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private bool TouchesCode(uint phys, uint size)
    {
        uint last = phys + size - 1;
        uint page = phys >> 12;
        if (page >= _codeLinePages) return false;
        ulong lines = _codeLines[page];
        if (lines == 0 && (last >> 12) == page) return false;
        return ((lines >> (int)((phys >> 6) & 63)) & 1) != 0 || (last >> 12) != page || ((lines >> (int)((last >> 6) & 63)) & 1) != 0;
    }

    /// <summary>A store hit a line holding decoded code: drop every block overlapping the stored bytes.</summary>
    private void CodeWritten(uint phys, uint length)
    {
        uint end = phys + length;
        for (uint page = phys >> 12; page <= (end - 1) >> 12 && page < _codeLinePages; page++)
        {
            if (_codeLines[page] == 0 || !_pageBlocks.TryGetValue(page, out var list)) continue;
            ulong remaining = 0;
            for (int i = list.Count - 1; i >= 0; i--)
            {
                var b = list[i];
                if (b.Valid && b.Phys < end && phys < b.PhysEnd)
                {
                    InvalidateBlock(b);
                    _breakBlock = true;
                }
                if (!b.Valid) list.RemoveAt(i);
                else remaining |= LinesOf(b, page);
            }
            _codeLines[page] = remaining;
            if (list.Count == 0) _pageBlocks.Remove(page);
        }
    }

    private void InvalidateBlock(Block b)
    {
        b.Valid = false;
        _blocks[b.Mode].Remove((b.Phys, b.Eip));
    }

    /// <summary>
    /// Hashes block keys by all their bits. A hash that XORs physical address and RIP is the same for every block of
    /// code mapped at a fixed distance from its physical address (a kernel at phys + 0xC0000000, identity mapping),
    /// so all of them would share one dictionary chain.
    /// </summary>
    private sealed class BlockKeyComparer : IEqualityComparer<(uint Phys, ulong Eip)>
    {
        public static readonly BlockKeyComparer Instance = new();

        /// <summary>
        /// Fibonacci hashing of phys | RIP &lt;&lt; 32, RIP's upper half folded into the low one: the high bits of the
        /// product depend on every bit of the key.
        /// </summary>
        public static ulong Mix((uint Phys, ulong Eip) key) =>
            (key.Phys ^ System.Numerics.BitOperations.RotateLeft(key.Eip, 32)) * 0x9E37_79B9_7F4A_7C15UL;

        public bool Equals((uint Phys, ulong Eip) x, (uint Phys, ulong Eip) y) => x == y;
        public int GetHashCode((uint Phys, ulong Eip) key) => (int)(Mix(key) >> 32);
    }

    private void OnExternalWrite(ulong address, ulong length)
    {
        _externalWrites.Enqueue((address, length));
        _pendingExternal = true;
        // The writer may be a device called from inside this CPU's own OUT: stop the running block too.
        _breakBlock = true;
    }

    private void DrainExternalWrites()
    {
        _pendingExternal = false;
        while (_externalWrites.TryDequeue(out var w))
        {
            if (w.Address > uint.MaxValue || w.Length == 0) continue;
            ulong end = Math.Min(w.Address + w.Length, 1UL << 32);
            CodeWritten((uint)w.Address, (uint)(end - w.Address));
        }
    }

    private void FlushCodeCache()
    {
        foreach (var dict in _blocks)
        {
            foreach (var b in dict.Values) b.Valid = false;
            dict.Clear();
        }
        _pageBlocks.Clear();
        new Span<ulong>(_codeLines, (int)_codeLinePages).Clear();
        Array.Clear(_fastBlocks);
        _breakBlock = true;
    }

    /// <summary>Feeds the Iced decoder from CS:EIP onwards, wrapping EIP at the code size like the CPU does.</summary>
    private sealed class FetchReader(InterpreterCpu cpu) : CodeReader
    {
        private ulong _base, _ip, _ipMask;
        private readonly byte[] _bytes = new byte[MaxBlockOps * 15 + 16];
        public int Count { get; private set; }

        /// <summary>The last <paramref name="length"/> bytes fetched: the instruction just decoded.</summary>
        public ReadOnlySpan<byte> LastBytes(int length) => _bytes.AsSpan(Count - length, length);
        public bool AllRam { get; private set; }

        public void Start(ulong csBase, ulong ip, ulong ipMask)
        {
            _base = csBase;
            _ip = ip;
            _ipMask = ipMask;
            Count = 0;
            AllRam = true;
        }

        public override int ReadByte()
        {
            ulong linear = _base + ((_ip + (uint)Count) & _ipMask);
            byte b = cpu.FetchByte(_ipMask == ulong.MaxValue ? linear : (uint)linear, out bool ram);
            if (Count < _bytes.Length) _bytes[Count] = b;
            Count++;
            if (!ram) AllRam = false;
            return b;
        }
    }
}
