using System.Runtime.CompilerServices;
using VirtShell.Engine.Memory;

namespace VirtShell.Cpu.Interpreter;

// Segmented and physical memory access. RAM starting at physical 0 is read through its host pointer directly;
// everything else goes through GuestMemory's block list or the MMIO bus.
public sealed unsafe partial class InterpreterCpu
{
    private byte* _ram;
    /// <summary>The block <see cref="_ram"/> points into, whose dirty log the pointer stores mark; null without RAM at 0.</summary>
    private MemoryBlock? _ramBlock;
    private uint _ramSize;
    /// <summary>min(RAM at 0, address space): accesses wholly below it take the pointer fast path.</summary>
    private uint _fastLimit;
    private uint _addrMask = 0xFFFF_FFFF;

    /// <summary>
    /// The physical address mask: 0xFFFFF wraps at 1 MiB like an 8086 (or A20 off), 0xFFFFFF wraps at 16 MiB like an
    /// 80286, 0xFFFFFFFF is a 386. The A20 gate of a chipset sets this.
    /// </summary>
    public uint AddressMask
    {
        get => _addrMask;
        set
        {
            if (value == _addrMask) return;
            _addrMask = value;
            FlushCodeCache();
            RefreshRam();
        }
    }

    /// <summary>Sizes the code-line map to the RAM present (up to 4 GiB); code outside it is decoded but not cached.</summary>
    private void AllocateCodeLines()
    {
        ulong end = _memory.Blocks.Count == 0 ? 0 : Math.Min(_memory.Blocks.Max(b => b.GuestEnd), 1UL << 32);
        _codeLinePages = (uint)((end + 0xFFF) >> 12);
        _codeLineStore = GC.AllocateArray<ulong>((int)_codeLinePages + 1, pinned: true);
        _codeLines = (ulong*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _codeLineStore[0]);
    }

    private void RefreshRam()
    {
        var low = _memory.FindBlock(0);
        _ramBlock = low;
        _ram = low != null ? low.Host : null;
        _ramSize = low != null ? (uint)Math.Min(low.Size, 0xFFFF_F000UL) : 0;
        _fastLimit = (uint)Math.Min(_ramSize, (ulong)_addrMask + 1);
    }

    /// <summary>
    /// Checks a read of <paramref name="size"/> bytes at <paramref name="offset"/> against the segment's type and limit
    /// and returns the linear address. Inline only for the common case, a present expand-up data segment.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Linear(int seg, uint offset, int size)
    {
        ref var s = ref _segs[seg];
        if ((s.Attributes & 0x9C) != 0x90 || offset > s.Limit || s.Limit - offset < (uint)(size - 1))
            return LinearChecked(seg, offset, size, write: false);
        return s.Base + offset;
    }

    /// <summary>As <see cref="Linear"/>, for a write: the inline case is a present, writable, expand-up data segment.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint LinearWrite(int seg, uint offset, int size)
    {
        ref var s = ref _segs[seg];
        if ((s.Attributes & 0x9E) != 0x92 || offset > s.Limit || s.Limit - offset < (uint)(size - 1))
            return LinearChecked(seg, offset, size, write: true);
        return s.Base + offset;
    }

    /// <summary>
    /// Every segment check of a data access (SDM Vol. 3, 5.3 and 5.4): in protected mode a null or not-present segment,
    /// a write to code or read-only data and a read of execute-only code fault; an expand-down segment's valid offsets
    /// lie above its limit, up to 64 KiB or 4 GiB by its B bit. Real and virtual-8086 mode check only the limits.
    /// </summary>
    private uint LinearChecked(int seg, uint offset, int size, bool write)
    {
        ref var s = ref _segs[seg];
        int vector = seg == SegSs ? Vector.StackFault : Vector.GeneralProtection;
        uint a = s.Attributes;
        if (ProtectedMode && !V86)
        {
            bool code = (a & 0x08) != 0, writableOrReadable = (a & 0x02) != 0;
            if ((a & 0x80) == 0 || (write ? code || !writableOrReadable : code && !writableOrReadable))
                throw new CpuFault(vector, 0);
        }
        uint last = offset + (uint)(size - 1);
        bool inside = (a & 0x1C) == 0x14
            ? offset > s.Limit && last >= offset && last <= (s.Big ? 0xFFFF_FFFFu : 0xFFFFu)
            : offset <= s.Limit && s.Limit - offset >= (uint)(size - 1);
        if (!inside) throw new CpuFault(vector, 0);
        return s.Base + offset;
    }

    /// <summary>
    /// Where a data access of <paramref name="size"/> bytes at <paramref name="seg"/>:<paramref name="offset"/> lies in
    /// RAM, when it needs no more than the inline checks: a present expand-up data segment (writable for a
    /// <paramref name="write"/>) with the access inside its limit; with paging a TLB hit on a page the current
    /// privilege owns (writable for a write), the access inside the page; RAM below the fast limit; for a write, one
    /// 64-byte line without decoded code. Null otherwise: <see cref="ReadData"/> then takes the whole
    /// path (<see cref="WriteMem"/> for a write), faults included. Compiled blocks call it with constant arguments, so the JIT inlines it whole.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* DataPointer(int seg, uint offset, int size, bool write)
    {
        ref var s = ref _segs[seg];
        if ((s.Attributes & (write ? 0x9Eu : 0x9Cu)) != (write ? 0x92u : 0x90u) || offset > s.Limit || s.Limit - offset < (uint)(size - 1))
            return null;
        uint linear = s.Base + offset;
        if (_paging)
        {
            int slot = (int)((linear >> 12) & (TlbSize - 1));
            byte rights = _tlbRights[slot];
            if (_tlbTag[slot] != (linear >> 12) + 1UL || (linear & 0xFFF) > 0x1000u - (uint)size || write && (rights & RightWrite) == 0 || !OwnPage(rights))
                return null;
            linear = _tlbPhys[slot] | (linear & 0xFFF);
        }
        uint phys = linear & _addrMask;
        if (phys >= _fastLimit || _fastLimit - phys < (uint)size) return null;
        // A store inside one 64-byte line with no decoded code (a shift count is taken mod 64: the line in its page).
        if (write && ((phys & 63) > 64u - (uint)size || phys >> 12 < _codeLinePages && ((_codeLines[phys >> 12] >> (int)(phys >> 6)) & 1) != 0))
            return null;
        return _ram + phys;
    }

    /// <summary>
    /// Marks the page a compiled block has just stored to through a <see cref="DataPointer"/> pointer, when writes are
    /// logged. After the store, not in DataPointer: a collection between a mark and its store would clear the bit and
    /// may read the page before the store, and the store would then be in no round.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NoteStored(byte* pointer)
    {
        ulong* log = _ramBlock!.DirtyLog;
        if (log != null) MemoryBlock.MarkDirty(log, (ulong)(pointer - _ram) >> 12);
    }

    /// <summary>
    /// A data read as <see cref="ReadMem"/>, the compiled blocks' path where <see cref="DataPointer"/> has none;
    /// <paramref name="destination"/>: the operand is also written (ADD to memory), so the segment must be writable.
    /// </summary>
    private uint ReadData(int seg, uint offset, int size, bool destination) =>
        ReadLinear(destination ? LinearWrite(seg, offset, size) : Linear(seg, offset, size), size);

    /// <summary>
    /// A user page at CPL 3 or a supervisor page below it: the TLB entry allows the access without more checks.
    /// Supervisor accesses to user pages (SMAP) take the full path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool OwnPage(byte rights) => ((rights & RightUser) != 0) == (_cpl == 3);

    private uint ReadMem(int seg, uint offset, int size) => ReadLinear(Linear(seg, offset, size), size);
    private void WriteMem(int seg, uint offset, int size, uint value) => WriteLinear(LinearWrite(seg, offset, size), size, value);
    private uint ReadMem8(int seg, uint offset) => ReadLinear(Linear(seg, offset, 1), 1);
    private uint ReadMem16(int seg, uint offset) => ReadLinear(Linear(seg, offset, 2), 2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint ReadLinear(ulong linear, int size)
    {
        if (_paging) return ReadPaged(linear, size, user: _cpl == 3);
        return ReadPhys((uint)linear & _addrMask, size);
    }

    /// <summary>A descriptor-table or TSS read: a supervisor access whatever the CPL.</summary>
    private uint ReadSystem(ulong linear, int size) =>
        _paging ? ReadPaged(linear, size, user: false) : ReadPhys((uint)linear & _addrMask, size);

    /// <summary>A descriptor-table or TSS write (busy bits, the saved task state): a supervisor access whatever the CPL.</summary>
    private void WriteSystem(ulong linear, int size, uint value)
    {
        if (_paging) WritePaged(linear, size, value, user: false);
        else WritePhys((uint)linear & _addrMask, size, value);
    }

    private uint ReadLinear32(uint linear) => ReadLinear(linear, 4);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteLinear(ulong linear, int size, uint value)
    {
        if (_paging) WritePaged(linear, size, value, user: _cpl == 3);
        else WritePhys((uint)linear & _addrMask, size, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint ReadPhys(uint phys, int size)
    {
        if (phys < _fastLimit && _fastLimit - phys >= (uint)size)
        {
            byte* p = _ram + phys;
            return size switch { 1 => *p, 2 => *(ushort*)p, _ => *(uint*)p };
        }
        return ReadPhysSlow(phys, size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WritePhys(uint phys, int size, uint value)
    {
        if (phys < _fastLimit && _fastLimit - phys >= (uint)size)
        {
            byte* p = _ram + phys;
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: *(ushort*)p = (ushort)value; break;
                default: *(uint*)p = value; break;
            }
            if (_ramBlock!.DirtyLog != null) _ramBlock.MarkDirty(phys, (uint)size);
            if (TouchesCode(phys, (uint)size)) CodeWritten(phys, (uint)size);
            return;
        }
        WritePhysSlow(phys, size, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint ReadPhysSlow(uint phys, int size)
    {
        uint last = phys + (uint)size - 1;
        if ((last & _addrMask) == last && last >= phys)
        {
            byte* p = _memory.TryGetPointer(phys, (ulong)size);
            if (p != null) return size switch { 1 => *p, 2 => *(ushort*)p, _ => *(uint*)p };
            if (!_memory.IsRam(phys, 1) && !_memory.IsRam(last, 1)) return (uint)_mmio.Read(phys, size);
        }
        uint v = 0;
        for (int i = 0; i < size; i++) v |= ReadPhysByte((phys + (uint)i) & _addrMask) << (8 * i);
        return v;
    }

    private uint ReadPhysByte(uint phys)
    {
        byte* p = _memory.TryGetPointer(phys, 1);
        return p != null ? *p : (uint)(_mmio.Read(phys, 1) & 0xFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WritePhysSlow(uint phys, int size, uint value)
    {
        uint last = phys + (uint)size - 1;
        if ((last & _addrMask) == last && last >= phys)
        {
            byte* p = _memory.TryGetPointer(phys, (ulong)size);
            if (p != null)
            {
                switch (size)
                {
                    case 1: *p = (byte)value; break;
                    case 2: *(ushort*)p = (ushort)value; break;
                    default: *(uint*)p = value; break;
                }
                _memory.MarkDirty(phys, (ulong)size);
                if (TouchesCode(phys, (uint)size)) CodeWritten(phys, (uint)size);
                return;
            }
            if (!_memory.IsRam(phys, 1) && !_memory.IsRam(last, 1))
            {
                _mmio.Write(phys, size, value);
                return;
            }
        }
        for (int i = 0; i < size; i++)
        {
            uint a = (phys + (uint)i) & _addrMask;
            byte* p = _memory.TryGetPointer(a, 1);
            if (p != null)
            {
                *p = (byte)(value >> (8 * i));
                _memory.MarkDirty(a, 1);
                if (TouchesCode(a, 1)) CodeWritten(a, 1);
            }
            else _mmio.Write(a, 1, (value >> (8 * i)) & 0xFF);
        }
    }

    /// <summary>An instruction fetch byte at a linear address: RAM or MMIO (a ROM device), reporting whether it came from RAM.</summary>
    private byte FetchByte(ulong linear, out bool ram)
    {
        uint phys = (_paging ? TranslateFetch(linear) : (uint)linear) & _addrMask;
        if (phys < _fastLimit)
        {
            ram = true;
            return _ram[phys];
        }
        byte* p = _memory.TryGetPointer(phys, 1);
        ram = p != null;
        return p != null ? *p : (byte)_mmio.Read(phys, 1);
    }
}
