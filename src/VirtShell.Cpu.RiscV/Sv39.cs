using System.Runtime.CompilerServices;
using VirtShell.Engine.Memory;

namespace VirtShell.Cpu.RiscV;

/// <summary>The three kinds of access, each with its own TLB and page-fault cause.</summary>
internal enum Access { Fetch, Load, Store }

public sealed unsafe partial class RiscvCpu
{
    private const int TlbSize = 1024;
    private const ulong PteV = 1, PteR = 2, PteW = 4, PteX = 8, PteU = 16, PteA = 64, PteD = 128;

    /// <summary>
    /// Per access kind, a direct-mapped TLB of virtual page → host pointer offset (host = va + addend) for RAM pages.
    /// Tags are the page number plus one, so 0 is empty. Pages that are not RAM are never cached. Every change of
    /// privilege, satp, or the mstatus fields that affect translation flushes all three.
    /// </summary>
    private readonly ulong[][] _tlbTag = [new ulong[TlbSize], new ulong[TlbSize], new ulong[TlbSize]];
    private readonly long[][] _tlbAddend = [new long[TlbSize], new long[TlbSize], new long[TlbSize]];

    private void FlushTlb()
    {
        foreach (var t in _tlbTag) Array.Clear(t);
        _fetchPage = ulong.MaxValue;
    }

    /// <summary>The host address of <paramref name="va"/> when its page is RAM and cached or cacheable; null for MMIO.</summary>
    /// <remarks>Translation faults become traps (and unwind).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private byte* HostAddress(ulong va, Access access, out ulong pa)
    {
        ulong page = va >> 12;
        int slot = (int)(page & (TlbSize - 1));
        var tags = _tlbTag[(int)access];
        if (tags[slot] == page + 1)
        {
            pa = 0;
            return (byte*)((long)va + _tlbAddend[(int)access][slot]);
        }
        pa = Translate(va, access);
        var block = _memory.FindBlock(pa);
        if (block == null || !block.Contains(pa & ~0xFFFUL, 4096)) return null;
        long addend = (long)block.Host + (long)(pa - block.GuestAddress) - (long)va;
        tags[slot] = page + 1;
        _tlbAddend[(int)access][slot] = addend;
        return (byte*)((long)va + addend);
    }

    /// <summary>The privilege loads and stores are checked at: mstatus.MPP when MPRV is set in M-mode (3.1.6.3).</summary>
    private Privilege DataPrivilege =>
        _priv == Privilege.Machine && (_mstatus & Status.Mprv) != 0 ? (Privilege)((_mstatus >> 11) & 3) : _priv;

    /// <summary>Virtual to physical (4.3.2 for Sv39, identity in Bare mode or M-mode).</summary>
    private ulong Translate(ulong va, Access access)
    {
        var priv = access == Access.Fetch ? _priv : DataPrivilege;
        if (priv == Privilege.Machine || (_satp >> 60) == 0) return va;
        // Bits 63..39 must all equal bit 38.
        if ((ulong)((long)(va << 25) >> 25) != va) throw PageFault(access, va);
        ulong table = (_satp & ((1UL << 44) - 1)) << 12;
        for (int level = 2; level >= 0; level--)
        {
            ulong pteAddress = table + ((va >> (12 + 9 * level)) & 511) * 8;
            ulong* pte = (ulong*)_memory.TryGetPointer(pteAddress, 8);
            if (pte == null) throw AccessFault(access, va);
            ulong entry = Volatile.Read(ref *pte);
            if ((entry & PteV) == 0 || ((entry & PteR) == 0 && (entry & PteW) != 0) || (entry >> 54) != 0) throw PageFault(access, va);
            ulong ppn = (entry >> 10) & ((1UL << 44) - 1);
            if ((entry & (PteR | PteX)) == 0)
            {
                table = ppn << 12;
                continue;
            }
            bool allowed = access switch
            {
                Access.Fetch => (entry & PteX) != 0,
                Access.Load => (entry & PteR) != 0 || ((_mstatus & Status.Mxr) != 0 && (entry & PteX) != 0),
                _ => (entry & PteW) != 0,
            };
            if ((entry & PteU) != 0)
            {
                if (priv == Privilege.Supervisor && (access == Access.Fetch || (_mstatus & Status.Sum) == 0)) allowed = false;
            }
            else if (priv == Privilege.User) allowed = false;
            ulong lowMask = (1UL << (9 * level)) - 1;
            if (!allowed || (ppn & lowMask) != 0) throw PageFault(access, va);
            ulong wanted = entry | PteA | (access == Access.Store ? PteD : 0);
            if (wanted != entry && Interlocked.CompareExchange(ref *pte, wanted, entry) != entry) throw PageFault(access, va);
            return (((ppn & ~lowMask) | ((va >> 12) & lowMask)) << 12) | (va & 0xFFF);
        }
        throw PageFault(access, va);
    }

    private Exception PageFault(Access access, ulong va) => Trap(access switch
    {
        Access.Fetch => Exceptions.InstructionPageFault,
        Access.Load => Exceptions.LoadPageFault,
        _ => Exceptions.StorePageFault,
    }, va);

    private Exception AccessFault(Access access, ulong va) => Trap(access switch
    {
        Access.Fetch => Exceptions.InstructionAccessFault,
        Access.Load => Exceptions.LoadAccessFault,
        _ => Exceptions.StoreAccessFault,
    }, va);

    /// <summary>SFENCE.VMA: the TLB is small enough to flush whole whatever the operands say.</summary>
    private void FenceVma()
    {
        if (_priv == Privilege.User || (_priv == Privilege.Supervisor && (_mstatus & Status.Tvm) != 0)) throw Illegal();
        FlushTlb();
    }
}
