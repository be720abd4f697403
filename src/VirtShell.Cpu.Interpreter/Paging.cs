using System.Runtime.CompilerServices;

namespace VirtShell.Cpu.Interpreter;

// 32-bit two-level paging (4 KiB pages, and 4 MiB pages with CR4.PSE) behind a direct-mapped TLB. Page-table
// entries get their Accessed and Dirty bits set as on hardware; faults raise #PF with CR2 and the error code.
// With CR4.PGE, translations from entries with the G bit survive CR3 loads (and task switches), as Linux expects.
public sealed unsafe partial class InterpreterCpu
{
    private const int TlbSize = 1024;
    private const uint PteP = 1, PteRw = 2, PteUs = 4, PteA = 0x20, PteD = 0x40, PdePs = 0x80, PteG = 0x100;
    private const uint Cr4Pse = 0x10, Cr4Pge = 0x80;

    /// <summary>CR0.PG with CR0.PE: linear addresses go through the page tables.</summary>
    private bool _paging;
    /// <summary>Per slot: the linear page number + 1 (0 = empty), the physical page base and what the entry allows.</summary>
    private readonly uint[] _tlbTag = new uint[TlbSize];
    private readonly uint[] _tlbPhys = new uint[TlbSize];
    private readonly byte[] _tlbRights = new byte[TlbSize];
    private const byte RightUser = 1, RightWrite = 2, RightGlobal = 4;

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
    private uint Translate(uint linear, bool write) => Translate(linear, write, user: _cpl == 3);

    /// <summary>
    /// Linear to physical for a user or a supervisor access. Descriptor-table and TSS accesses are supervisor accesses
    /// whatever the CPL, as on hardware (an interrupt from ring 3 reads a supervisor-only IDT).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Translate(uint linear, bool write, bool user)
    {
        uint vpn = linear >> 12;
        int slot = (int)(vpn & (TlbSize - 1));
        if (_tlbTag[slot] == vpn + 1)
        {
            byte rights = _tlbRights[slot];
            if ((!write || (rights & RightWrite) != 0) && (!user || (rights & RightUser) != 0))
                return _tlbPhys[slot] | (linear & 0xFFF);
        }
        return Walk(linear, write, user);
    }

    private uint Walk(uint linear, bool write, bool user)
    {
        bool wp = (_cr0 & 0x1_0000) != 0;
        uint pdeAddr = (_cr3 & 0xFFFF_F000) | ((linear >> 20) & 0xFFC);
        uint pde = ReadPhys(pdeAddr & _addrMask, 4);
        if ((pde & PteP) == 0) throw PageFault(linear, write, user, present: false);
        uint physPage, rights = pde & (PteRw | PteUs), global;
        if ((pde & PdePs) != 0 && (_cr4 & Cr4Pse) != 0)
        {
            CheckRights(linear, write, user, wp, rights);
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
            CheckRights(linear, write, user, wp, rights);
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

    private void CheckRights(uint linear, bool write, bool user, bool wp, uint rights)
    {
        if (user && (rights & PteUs) == 0) throw PageFault(linear, write, user, present: true);
        if (write && (rights & PteRw) == 0 && (user || wp)) throw PageFault(linear, write, user, present: true);
    }

    private CpuFault PageFault(uint linear, bool write, bool user, bool present)
    {
        _cr2 = linear;
        return new CpuFault(Vector.PageFault, (present ? 1 : 0) | (write ? 2 : 0) | (user ? 4 : 0));
    }

    private uint ReadPaged(uint linear, int size, bool user)
    {
        uint phys = Translate(linear, write: false, user);
        if ((linear & 0xFFF) + (uint)size <= 0x1000) return ReadPhys(phys & _addrMask, size);
        // Split across two pages that may map anywhere: translate both before touching either.
        Translate(linear + (uint)size - 1, write: false, user);
        uint v = 0;
        for (int i = 0; i < size; i++) v |= ReadPhys(Translate(linear + (uint)i, write: false, user) & _addrMask, 1) << (8 * i);
        return v;
    }

    private void WritePaged(uint linear, int size, uint value, bool user)
    {
        uint phys = Translate(linear, write: true, user);
        if ((linear & 0xFFF) + (uint)size <= 0x1000)
        {
            WritePhys(phys & _addrMask, size, value);
            return;
        }
        Translate(linear + (uint)size - 1, write: true, user);
        for (int i = 0; i < size; i++) WritePhys(Translate(linear + (uint)i, write: true, user) & _addrMask, 1, (value >> (8 * i)) & 0xFF);
    }

    private static void Invlpg(InterpreterCpu c, ref DecodedOp d)
    {
        c.RequireCpl0();
        uint linear = c._segs[d.Seg].Base + c.EffectiveAddress(ref d);
        c._tlbTag[(linear >> 12) & (TlbSize - 1)] = 0;
    }
}
