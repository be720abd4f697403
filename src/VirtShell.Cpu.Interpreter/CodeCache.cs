using System.Collections.Concurrent;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// The decoded-block cache. Blocks are keyed by (physical address, EIP, code size) so that relative branch targets
// Iced resolved at decode time stay right. Every RAM page holding decoded code is marked in _codePages; a store to
// a marked page drops the blocks overlapping the stored bytes (CodeWritten), and GuestMemory.ExternalWrite does the
// same for loaders and devices.
public sealed unsafe partial class InterpreterCpu
{
    private const int MaxBlockOps = 48;
    private const int FastSlots = 4096;

    /// <summary>Per 4 KiB physical page: nonzero when a cached block was decoded from it.</summary>
    private readonly byte[] _codePages = new byte[1 << 20];
    private readonly Dictionary<uint, List<Block>> _pageBlocks = [];
    private readonly Dictionary<ulong, Block> _blocks16 = [];
    private readonly Dictionary<ulong, Block> _blocks32 = [];
    private readonly Block?[] _fastBlocks = new Block?[FastSlots];
    private readonly ConcurrentQueue<(ulong Address, ulong Length)> _externalWrites = new();
    private volatile bool _pendingExternal;
    private readonly FetchReader _reader;
    private readonly List<DecodedOp> _decodeScratch = new(MaxBlockOps);

    private Block GetBlock()
    {
        uint eip = _eip;
        ref var cs = ref _segs[SegCs];
        if (eip > cs.Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        uint phys = (cs.Base + eip) & _addrMask;
        int slot = (int)((phys ^ (eip << 7)) & (FastSlots - 1));
        var b = _fastBlocks[slot];
        if (b != null && b.Phys == phys && b.Eip == eip && b.Code32 == _code32 && b.Valid) return b;
        var dict = _code32 ? _blocks32 : _blocks16;
        ulong key = phys | ((ulong)eip << 32);
        if (!dict.TryGetValue(key, out b))
        {
            b = DecodeBlock(phys, eip, out bool cacheable);
            if (!cacheable) return b;
            dict[key] = b;
            for (uint page = phys >> 12; page <= (b.PhysEnd - 1) >> 12; page++)
            {
                _codePages[page] = 1;
                if (!_pageBlocks.TryGetValue(page, out var list)) _pageBlocks[page] = list = [];
                list.Add(b);
            }
        }
        _fastBlocks[slot] = b;
        return b;
    }

    private Block DecodeBlock(uint phys, uint eip, out bool cacheable)
    {
        uint ipMask = _code32 ? 0xFFFF_FFFFu : 0xFFFF;
        _reader.Start(_segs[SegCs].Base, eip, ipMask);
        var decoder = Decoder.Create(_code32 ? 32 : 16, _reader, eip, DecoderOptions.None);
        var ops = _decodeScratch;
        ops.Clear();
        uint ip = eip;
        bool wrapped = false;
        while (true)
        {
            decoder.Decode(out var instr);
            var d = new DecodedOp();
            Prepare(ref d, instr, ipMask, _reader.LastBytes(instr.Length));
            ops.Add(d);
            uint next = d.NextIp;
            // An instruction running past the end of the code segment wraps to offset 0: its bytes are not contiguous.
            wrapped = next <= ip;
            ip = next;
            // Stop when our length differs from Iced's (x87 escapes): the decoder is no longer at the next instruction.
            bool desync = next != ((uint)instr.NextIP & ipMask);
            if (instr.FlowControl != FlowControl.Next || wrapped || desync || ops.Count >= MaxBlockOps) break;
            if (((_segs[SegCs].Base + ip) & _addrMask) >> 12 != phys >> 12) break;
            if (ip > _segs[SegCs].Limit) break;
        }
        cacheable = _reader.AllRam && !wrapped;
        uint physEnd = phys + Math.Max((uint)_reader.Count, wrapped ? 0 : ip - eip);
        return new Block(phys, eip, _code32, [.. ops], physEnd);
    }

    /// <summary>A store hit a page holding decoded code: drop every block overlapping the stored bytes.</summary>
    private void CodeWritten(uint phys, uint length)
    {
        uint end = phys + length;
        for (uint page = phys >> 12; page <= (end - 1) >> 12; page++)
        {
            if (_codePages[page & 0xFFFFF] == 0 || !_pageBlocks.TryGetValue(page, out var list)) continue;
            for (int i = list.Count - 1; i >= 0; i--)
            {
                var b = list[i];
                if (b.Valid && b.Phys < end && phys < b.PhysEnd)
                {
                    InvalidateBlock(b);
                    _breakBlock = true;
                }
                if (!b.Valid) list.RemoveAt(i);
            }
            if (list.Count == 0)
            {
                _codePages[page] = 0;
                _pageBlocks.Remove(page);
            }
        }
    }

    private void InvalidateBlock(Block b)
    {
        b.Valid = false;
        (b.Code32 ? _blocks32 : _blocks16).Remove(b.Phys | ((ulong)b.Eip << 32));
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
        foreach (var b in _blocks16.Values) b.Valid = false;
        foreach (var b in _blocks32.Values) b.Valid = false;
        _blocks16.Clear();
        _blocks32.Clear();
        _pageBlocks.Clear();
        Array.Clear(_codePages);
        Array.Clear(_fastBlocks);
        _breakBlock = true;
    }

    /// <summary>Feeds the Iced decoder from CS:EIP onwards, wrapping EIP at the code size like the CPU does.</summary>
    private sealed class FetchReader(InterpreterCpu cpu) : CodeReader
    {
        private uint _base, _ip, _ipMask;
        private readonly byte[] _bytes = new byte[MaxBlockOps * 15 + 16];
        public int Count { get; private set; }

        /// <summary>The last <paramref name="length"/> bytes fetched: the instruction just decoded.</summary>
        public ReadOnlySpan<byte> LastBytes(int length) => _bytes.AsSpan(Count - length, length);
        public bool AllRam { get; private set; }

        public void Start(uint csBase, uint ip, uint ipMask)
        {
            _base = csBase;
            _ip = ip;
            _ipMask = ipMask;
            Count = 0;
            AllRam = true;
        }

        public override int ReadByte()
        {
            byte b = cpu.FetchPhysByte(_base + ((_ip + (uint)Count) & _ipMask), out bool ram);
            if (Count < _bytes.Length) _bytes[Count] = b;
            Count++;
            if (!ram) AllRam = false;
            return b;
        }
    }
}
