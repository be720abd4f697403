using System.Runtime.CompilerServices;

namespace VirtShell.Cpu.Interpreter;

// 32-bit two-level paging (4 KiB pages, and 4 MiB pages with CR4.PSE) and, in IA-32e mode, 4-level paging
// (Walk64) behind one direct-mapped TLB. Page-table
// entries get their Accessed and Dirty bits set as on hardware; faults raise #PF with CR2 and the error code.
// With CR4.PGE, translations from entries with the G bit survive CR3 loads (and task switches), as Linux expects.
public sealed unsafe partial class InterpreterCpu
{
    private const int TlbSize = 1024;
    private const uint PteP = 1, PteRw = 2, PteUs = 4, PteA = 0x20, PteD = 0x40, PdePs = 0x80, PteG = 0x100;

    /// <summary>CR0.PG with CR0.PE: linear addresses go through the page tables.</summary>
    private bool _paging;
    /// <summary>Per slot: the linear page number + 1 (0 = empty), the physical page base and what the entry allows.</summary>
    private readonly ulong[] _tlbTag = new ulong[TlbSize];
    private readonly uint[] _tlbPhys = new uint[TlbSize];
    private readonly byte[] _tlbRights = new byte[TlbSize];
    private const byte RightUser = 1, RightWrite = 2, RightGlobal = 4, RightNoExecute = 8;

    private void FlushTlb() => Array.Clear(_tlbTag);

    /// <summary>A CR3 load: every translation goes except global ones while CR4.PGE is set.</summary>
    private void FlushNonGlobalTlb()
    {
        if ((_cr4 & Cr4Pge) == 0)
        {
            FlushTlb();
            return;
        }
        for (int slot = 0; slot < TlbSize; slot++)
            if ((_tlbRights[slot] & RightGlobal) == 0) _tlbTag[slot] = 0;
    }

    private void PagingModeChanged()
    {
        _paging = (_cr0 & 0x8000_0001) == 0x8000_0001;
        FlushTlb();
        _breakBlock = true;
    }

    /// <summary>Linear to physical for one access at the current privilege; #PF when the tables forbid it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Translate(ulong linear, bool write) => Translate(linear, write, user: _cpl == 3);

    /// <summary>An instruction fetch: as a read, and #PF when EFER.NXE marks the page execute-disable.</summary>
    private uint TranslateFetch(ulong linear)
    {
        uint phys = Translate(linear, write: false, user: _cpl == 3, data: false);
        if (_noExecute && (_tlbRights[(int)((linear >> 12) & (TlbSize - 1))] & RightNoExecute) != 0)
            throw PageFault(linear, write: false, _cpl == 3, present: true, fetch: true);
        return phys;
    }

    /// <summary>
    /// A fetch translation the TLB holds with the rights this fetch needs, found without a walk or a fault (block
    /// chaining checks its successors with it); false sends the caller to <see cref="TranslateFetch"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryCachedFetchTranslation(uint linear, out uint phys)
    {
        uint vpn = linear >> 12;
        int slot = (int)(vpn & (TlbSize - 1));
        byte rights = _tlbRights[slot];
        phys = (_tlbPhys[slot] | (linear & 0xFFF)) & _addrMask;
        return _tlbTag[slot] == vpn + 1UL && (_cpl != 3 || (rights & RightUser) != 0) && (!_noExecute || (rights & RightNoExecute) == 0);
    }

    /// <summary>
    /// Linear to physical for a user or a supervisor access. Descriptor-table and TSS accesses are supervisor accesses
    /// whatever the CPL, as on hardware (an interrupt from ring 3 reads a supervisor-only IDT). <paramref name="data"/>
    /// is false for instruction fetches, which SMAP does not restrict.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Translate(ulong linear, bool write, bool user, bool data = true)
    {
        ulong vpn = linear >> 12;
        int slot = (int)(vpn & (TlbSize - 1));
        if (_tlbTag[slot] == vpn + 1)
        {
            byte rights = _tlbRights[slot];
            if ((!write || (rights & RightWrite) != 0) && (user ? (rights & RightUser) != 0 : (rights & RightUser) == 0 || !data || !SmapForbidsUserPages))
                return _tlbPhys[slot] | ((uint)linear & 0xFFF);
        }
        return Lma ? Walk64(linear, write, user, data) : Walk((uint)linear, write, user, data);
    }

    /// <summary>CR4.SMAP with EFLAGS.AC clear: a supervisor data access to a user page is a page fault (STAC lifts it).</summary>
    private bool SmapForbidsUserPages => (_cr4 & Cr4Smap) != 0 && (_flagBits & FlagAc) == 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint Walk(uint linear, bool write, bool user, bool data)
    {
        bool wp = (_cr0 & 0x1_0000) != 0;
        uint pdeAddr = (_cr3 & 0xFFFF_F000) | ((linear >> 20) & 0xFFC);
        uint pde = ReadPhys(pdeAddr & _addrMask, 4);
        if ((pde & PteP) == 0) throw PageFault(linear, write, user, present: false);
        uint physPage, rights = pde & (PteRw | PteUs), global;
        if ((pde & PdePs) != 0 && (_cr4 & Cr4Pse) != 0)
        {
            CheckRights(linear, write, user, wp, rights, data);
            uint updated = pde | PteA | (write ? PteD : 0);
            if (updated != pde) WritePhys(pdeAddr & _addrMask, 4, updated);
            physPage = (pde & 0xFFC0_0000) | (linear & 0x003F_F000);
            global = pde & PteG;
            if (!write && (pde & PteD) == 0) rights &= ~PteRw; // a later write must come back to set D
        }
        else
        {
            uint pteAddr = (pde & 0xFFFF_F000) | ((linear >> 10) & 0xFFC);
            uint pte = ReadPhys(pteAddr & _addrMask, 4);
            if ((pte & PteP) == 0) throw PageFault(linear, write, user, present: false);
            rights &= pte & (PteRw | PteUs);
            CheckRights(linear, write, user, wp, rights, data);
            if ((pde & PteA) == 0) WritePhys(pdeAddr & _addrMask, 4, pde | PteA);
            uint updated = pte | PteA | (write ? PteD : 0);
            if (updated != pte) WritePhys(pteAddr & _addrMask, 4, updated);
            physPage = pte & 0xFFFF_F000;
            global = pte & PteG;
            if (!write && (pte & PteD) == 0) rights &= ~PteRw;
        }
        // A supervisor write to a read-only page (allowed without CR0.WP) is not cached as writable: users must not inherit it.
        byte tlbRights = (byte)(((rights & PteUs) != 0 ? RightUser : 0) | ((rights & PteRw) != 0 ? RightWrite : 0) |
                                (global != 0 && (_cr4 & Cr4Pge) != 0 ? RightGlobal : 0));
        int slot = (int)((linear >> 12) & (TlbSize - 1));
        _tlbTag[slot] = (linear >> 12) + 1;
        _tlbPhys[slot] = physPage;
        _tlbRights[slot] = tlbRights;
        return physPage | (linear & 0xFFF);
    }

    private void CheckRights(ulong linear, bool write, bool user, bool wp, uint rights, bool data)
    {
        if (user && (rights & PteUs) == 0) throw PageFault(linear, write, user, present: true);
        if (!user && data && (rights & PteUs) != 0 && SmapForbidsUserPages) throw PageFault(linear, write, user, present: true);
        if (write && (rights & PteRw) == 0 && (user || wp)) throw PageFault(linear, write, user, present: true);
    }

    private CpuFault PageFault(ulong linear, bool write, bool user, bool present, bool reserved = false, bool fetch = false)
    {
        _cr2 = linear;
        return new CpuFault(Vector.PageFault,
            (present ? 1 : 0) | (write ? 2 : 0) | (user ? 4 : 0) | (reserved ? 8 : 0) | (fetch ? 0x10 : 0));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint ReadPaged(ulong linear, int size, bool user)
    {
        uint phys = Translate(linear, write: false, user);
        if ((linear & 0xFFF) + (ulong)size <= 0x1000) return ReadPhys(phys & _addrMask, size);
        // Split across two pages that may map anywhere: translate both before touching either.
        Translate(linear + (uint)size - 1, write: false, user);
        uint v = 0;
        for (int i = 0; i < size; i++) v |= ReadPhys(Translate(linear + (uint)i, write: false, user) & _addrMask, 1) << (8 * i);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WritePaged(ulong linear, int size, uint value, bool user)
    {
        uint phys = Translate(linear, write: true, user);
        if ((linear & 0xFFF) + (ulong)size <= 0x1000)
        {
            WritePhys(phys & _addrMask, size, value);
            return;
        }
        Translate(linear + (uint)size - 1, write: true, user);
        for (int i = 0; i < size; i++) WritePhys(Translate(linear + (uint)i, write: true, user) & _addrMask, 1, (value >> (8 * i)) & 0xFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Invlpg(InterpreterCpu c, ref DecodedOp d)
    {
        c.RequireCpl0();
        ulong linear = c._mode64 ? c.Linear64(ref d, 1) : c._segs[d.Seg].Base + c.EffectiveAddress(ref d);
        c._tlbTag[(linear >> 12) & (TlbSize - 1)] = 0;
    }

    /// <summary>
    /// The IA-32e 4-level walk: PML4, PDPT (1 GiB pages), page directory (2 MiB pages), page table. Physical addresses
    /// stop at 4 GiB (CPUID reports MAXPHYADDR 32), so address bits 32-51 of an entry are reserved, as is bit 63 without
    /// EFER.NXE; a reserved bit is #PF with RSVD. U/S and R/W are the AND of all levels, execute-disable the OR.
    /// </summary>
    private uint Walk64(ulong linear, bool write, bool user, bool data)
    {
        bool wp = (_cr0 & 0x1_0000) != 0;
        ulong reservedMask = 0x000F_FFFF_0000_0000UL | (_noExecute ? 0 : 1UL << 63);
        Span<uint> entryAddr = stackalloc uint[4];
        ulong table = _cr3 & 0xFFFF_F000;
        ulong rights = PteRw | PteUs, entry = 0;
        bool noExecute = false;
        int levels = 0;
        for (int level = 3; level >= 0; level--)
        {
            uint at = (uint)table | (uint)(((linear >> (12 + 9 * level)) & 0x1FF) << 3);
            entry = ReadPhys(at & _addrMask, 4) | ((ulong)ReadPhys((at + 4) & _addrMask, 4) << 32);
            entryAddr[levels++] = at;
            if ((entry & PteP) == 0) throw PageFault(linear, write, user, present: false);
            bool large = level is 1 or 2 && (entry & PdePs) != 0;
            ulong reserved = reservedMask | (level == 3 ? PdePs : 0) |
                             (large ? (level == 2 ? 0x3FFF_E000UL : 0x1F_E000UL) : 0);
            if ((entry & reserved) != 0) throw PageFault(linear, write, user, present: true, reserved: true);
            rights &= entry;
            noExecute |= (long)entry < 0;
            if (large || level == 0)
            {
                ulong pageMask = level == 0 ? 0xFFF : level == 1 ? 0x1F_FFFFUL : 0x3FFF_FFFFUL;
                table = (entry & 0xFFFF_F000 & ~pageMask) | (linear & pageMask & ~0xFFFUL);
                break;
            }
            table = entry & 0xFFFF_F000;
        }
        CheckRights(linear, write, user, wp, (uint)rights, data);
        for (int k = 0; k < levels; k++)
        {
            uint at = entryAddr[k];
            uint low = ReadPhys(at & _addrMask, 4);
            uint updated = low | PteA | (write && k == levels - 1 ? PteD : 0);
            if (updated != low) WritePhys(at & _addrMask, 4, updated);
        }
        if (!write && (entry & PteD) == 0) rights &= ~(ulong)PteRw; // a later write must come back to set D
        uint physPage = (uint)table;
        byte tlbRights = (byte)(((rights & PteUs) != 0 ? RightUser : 0) | ((rights & PteRw) != 0 ? RightWrite : 0) |
                                ((entry & PteG) != 0 && (_cr4 & Cr4Pge) != 0 ? RightGlobal : 0) |
                                (noExecute ? RightNoExecute : 0));
        int slot = (int)((linear >> 12) & (TlbSize - 1));
        _tlbTag[slot] = (linear >> 12) + 1;
        _tlbPhys[slot] = physPage;
        _tlbRights[slot] = tlbRights;
        return physPage | ((uint)linear & 0xFFF);
    }
}
