using System.Runtime.CompilerServices;
namespace VirtShell.Cpu.RiscV;

public sealed unsafe partial class RiscvCpu
{
    /// <summary>
    /// A load of <paramref name="size"/> bytes (1, 2, 4, 8), zero-extended. Misaligned accesses are done in hardware,
    /// byte by byte when they cross a page; MMIO goes to the bus.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong Load(ulong va, int size)
    {
        if ((va & 0xFFF) > (ulong)(4096 - size)) return LoadSplit(va, size);
        byte* p = HostAddress(va, Access.Load, out ulong pa);
        if (p == null) return _mmio.Read(pa, size);
        return size switch
        {
            1 => *p,
            2 => *(ushort*)p,
            4 => *(uint*)p,
            _ => *(ulong*)p,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Store(ulong va, int size, ulong value)
    {
        if ((va & 0xFFF) > (ulong)(4096 - size))
        {
            StoreSplit(va, size, value);
            return;
        }
        byte* p = HostAddress(va, Access.Store, out ulong pa);
        if (p == null)
        {
            _mmio.Write(pa, size, value);
            return;
        }
        if (_reservationValid && (va & ~7UL) == (_reservation & ~7UL)) _reservationValid = false;
        switch (size)
        {
            case 1: *p = (byte)value; break;
            case 2: *(ushort*)p = (ushort)value; break;
            case 4: *(uint*)p = (uint)value; break;
            default: *(ulong*)p = value; break;
        }
    }

    private ulong LoadSplit(ulong va, int size)
    {
        ulong value = 0;
        for (int i = 0; i < size; i++) value |= Load(va + (ulong)i, 1) << (8 * i);
        return value;
    }

    /// <summary>Both pages are translated before either is written, so a fault on the second leaves memory as it was.</summary>
    private void StoreSplit(ulong va, int size, ulong value)
    {
        HostAddress(va, Access.Store, out _);
        HostAddress(va + (ulong)size - 1, Access.Store, out _);
        for (int i = 0; i < size; i++) Store(va + (ulong)i, 1, value >> (8 * i));
    }

    /// <summary>The host address of an aligned atomic operand in RAM; AMOs on MMIO are an access fault.</summary>
    private byte* AtomicAddress(ulong va, int size)
    {
        if ((va & (ulong)(size - 1)) != 0) throw Trap(Exceptions.StoreMisaligned, va);
        byte* p = HostAddress(va, Access.Store, out _);
        if (p == null) throw Trap(Exceptions.StoreAccessFault, va);
        return p;
    }

    private ulong _fetchPage = ulong.MaxValue;
    private byte* _fetchHost;

    /// <summary>
    /// The instruction at pc, with its length: 16-bit parcels are expanded to their 32-bit equivalents
    /// (<see cref="Compressed"/>). The last fetched page's host address is kept, so straight-line code does no lookup.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint Fetch(out int length)
    {
        ulong pc = _pc;
        uint low;
        if ((pc >> 12) == _fetchPage && (pc & 0xFFF) <= 0xFFC)
        {
            uint word = *(uint*)(_fetchHost + (pc & 0xFFF));
            if ((word & 3) == 3)
            {
                length = 4;
                return word;
            }
            low = word & 0xFFFF;
        }
        else
        {
            low = FetchParcel(pc);
            if ((low & 3) == 3)
            {
                length = 4;
                return low | (FetchParcel(pc + 2) << 16);
            }
        }
        length = 2;
        _inst = low;
        uint expanded = Compressed.Expand(low);
        if (expanded == 0) throw Illegal();
        return expanded;
    }

    private uint FetchParcel(ulong va)
    {
        byte* p = HostAddress(va, Access.Fetch, out ulong pa);
        if (p == null) throw Trap(Exceptions.InstructionAccessFault, va);
        _fetchPage = va >> 12;
        _fetchHost = p - (va & 0xFFF);
        return *(ushort*)p;
    }
}
