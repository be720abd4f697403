using VirtShell.Cpu.Kvm.Native;
using VirtShell.Cpu.Kvm.NestedHost;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Native;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// One KVM virtual machine over the engine's guest memory: each RAM block becomes a memory slot backed by the very
/// same host pages (no copy), with the in-kernel 8259 pair, I/O APIC, local APICs and 8254 PIT. Port and MMIO
/// accesses the kernel does not handle itself come out of <see cref="KvmCpu.Run"/> to the engine's buses.
/// </summary>
/// <remarks>
/// The memory must outlive the VM: dispose the vCPUs, then the VM, then the memory. RAM added to the
/// <see cref="GuestMemory"/> after the VM was created is not visible to the guest.
/// </remarks>
public sealed unsafe class KvmVirtualMachine : IDirtyPageTracking, IDisposable
{
    /// <summary>
    /// Three pages just below the 4 GiB BIOS area, where QEMU puts them too: Intel's VMX needs a real-mode TSS and an
    /// identity-mapped page table somewhere in guest physical space to run real-mode and unpaged code. They must not
    /// overlap RAM or MMIO; our RAM stops at 3 GiB.
    /// </summary>
    public const ulong IdentityMapAddress = 0xFFFB_C000, TssAddress = 0xFFFB_D000;

    private readonly FileDescriptor _fd;
    private readonly List<KvmCpu> _cpus = [];
    private readonly object _dirtyLock = new();
    private bool _tracking;

    public GuestMemory Memory { get; }

    /// <summary>The in-kernel PIC/IOAPIC as devices see it: raising line n raises GSI n (ISA IRQ n).</summary>
    public IInterruptController Interrupts { get; }

    /// <summary>The in-kernel PIC pair, I/O APIC, PIT and clock as one part of a saved state, for the platform to put on the port bus.</summary>
    public KvmChipset Chipset { get; }

    internal int VcpuMmapSize { get; }
    internal KvmCpuidEntry2[] SupportedCpuid { get; }
    internal uint[] MsrIndexList { get; }

    /// <summary>Why this VM's state cannot be saved or restored (a capability missing), or null when it can.</summary>
    internal string? StateUnsupportedReason { get; }

    /// <summary>
    /// Where this host's KVM leaves SYSCALL half done (it runs ring 0 through its emulator), the patch through which the
    /// vCPUs' <see cref="NestedHostWorkarounds"/> finish it; null elsewhere, and then the vCPUs have no workarounds.
    /// </summary>
    internal PageFaultHandlerPatch? PageFaultHandlerPatch { get; }

    internal bool RepairsSyscalls => PageFaultHandlerPatch != null;

    /// <exception cref="KvmUnavailableException">/dev/kvm is missing, not writable, or lacks a capability.</exception>
    public KvmVirtualMachine(GuestMemory memory) : this(memory, KvmSyscallCheck.SyscallLeftInUserMode)
    {
    }

    /// <summary>The check's own VM, which must not wait for the check.</summary>
    internal KvmVirtualMachine(GuestMemory memory, bool repairsSyscalls)
    {
        Memory = memory;
        if (repairsSyscalls) PageFaultHandlerPatch = new PageFaultHandlerPatch();
        using var system = KvmSystem.Open();
        VcpuMmapSize = system.VcpuMmapSize;
        SupportedCpuid = system.SupportedCpuid();
        MsrIndexList = system.MsrIndexList();
        var missing = KvmApi.RequiredForState.Where(c => !system.HasCapability(c)).ToList();
        if (missing.Count > 0)
            StateUnsupportedReason = $"KVM on this host lacks {string.Join(", ", missing.Select(c => "KVM_CAP_" + c))}, which saving and restoring a machine's state needs";
        int slots = system.CapabilityValue(KvmApi.Capability.NrMemslots);
        if (memory.Blocks.Count > slots)
            throw new KvmException($"guest memory has {memory.Blocks.Count} RAM regions; KVM here allows {slots} memory slots");

        _fd = new FileDescriptor(KvmSystem.Check(Libc.ioctl(system.Fd, KvmApi.CreateVm, 0), "KVM_CREATE_VM"));
        try
        {
            ulong identityMap = IdentityMapAddress;
            Ioctl(KvmApi.SetIdentityMapAddr, (nint)(&identityMap), "KVM_SET_IDENTITY_MAP_ADDR");
            Ioctl(KvmApi.SetTssAddr, unchecked((nint)TssAddress), "KVM_SET_TSS_ADDR");
            for (int slot = 0; slot < memory.Blocks.Count; slot++) MapBlock((uint)slot, memory.Blocks[slot]);
            Ioctl(KvmApi.CreateIrqchip, 0, "KVM_CREATE_IRQCHIP");
            var pit = new KvmPitConfig(); // flags 0: the kernel also models the speaker port 0x61 (PIT channel 2 gate)
            Ioctl(KvmApi.CreatePit2, (nint)(&pit), "KVM_CREATE_PIT2");
            Interrupts = new KvmInterruptController(this);
            Chipset = new KvmChipset(this);
        }
        catch
        {
            _fd.Dispose();
            throw;
        }
    }

    /// <summary>Creates vCPU <paramref name="id"/>; the VM disposes it if the caller has not.</summary>
    public KvmCpu CreateCpu(IoPortBus ports, MmioBus mmio, int id = 0)
    {
        var cpu = new KvmCpu(this, id, ports, mmio);
        lock (_cpus) _cpus.Add(cpu);
        return cpu;
    }

    private void MapBlock(uint slot, MemoryBlock block, uint flags = 0)
    {
        if (block.GuestEnd > IdentityMapAddress && block.GuestAddress < TssAddress + 3 * MemoryBlock.PageSize)
            throw new KvmException($"RAM at 0x{block.GuestAddress:x}-0x{block.GuestEnd - 1:x} overlaps KVM's TSS and identity map at 0x{IdentityMapAddress:x}");
        var region = new KvmUserspaceMemoryRegion
        {
            Slot = slot,
            GuestPhysAddr = block.GuestAddress,
            MemorySize = block.Size,
            UserspaceAddr = (ulong)block.Host,
            Flags = flags,
        };
        if (Libc.ioctl(Fd, KvmApi.SetUserMemoryRegion, (nint)(&region)) < 0)
            throw new KvmException(
                $"KVM cannot map the guest's {block.Size >> 20} MiB of RAM at 0x{block.GuestAddress:x} (KVM_SET_USER_MEMORY_REGION, slot {slot}: {Libc.Describe(Libc.LastError)}); give the machine less memory");
    }

    internal int Fd => _fd.Value;

    /// <summary>
    /// Sets KVM_MEM_LOG_DIRTY_PAGES on every slot (KVM write-protects the pages and logs the first write to each) and
    /// starts the guest memory's own log, which catches what this process's devices and loaders write and KVM does not see.
    /// </summary>
    public void StartDirtyTracking()
    {
        lock (_dirtyLock)
        {
            for (int slot = 0; slot < Memory.Blocks.Count; slot++)
            {
                MapBlock((uint)slot, Memory.Blocks[slot], KvmApi.MemLogDirtyPages);
                ReadDirtyLog((uint)slot, Memory.Blocks[slot], null); // a slot already logging starts clean too
            }
            Memory.StartDirtyLog();
            _tracking = true;
        }
    }

    /// <summary>KVM_GET_DIRTY_LOG of every slot (which also resets it), with the pages our devices wrote, as page numbers.</summary>
    public IReadOnlyList<ulong> CollectDirtyPages()
    {
        lock (_dirtyLock)
        {
            if (!_tracking) throw new InvalidOperationException("dirty-page tracking has not been started");
            var pages = new SortedSet<ulong>(Memory.CollectDirtyLog());
            for (int slot = 0; slot < Memory.Blocks.Count; slot++) ReadDirtyLog((uint)slot, Memory.Blocks[slot], pages);
            return [.. pages];
        }
    }

    public void StopDirtyTracking()
    {
        lock (_dirtyLock)
        {
            if (!_tracking) return;
            _tracking = false;
            Memory.StopDirtyLog();
            for (int slot = 0; slot < Memory.Blocks.Count; slot++) MapBlock((uint)slot, Memory.Blocks[slot]);
        }
    }

    /// <summary>Reads and resets one slot's log; adds the pages it names to <paramref name="pages"/> unless that is null.</summary>
    private void ReadDirtyLog(uint slot, MemoryBlock block, ISet<ulong>? pages)
    {
        ulong pageCount = block.Size / MemoryBlock.PageSize;
        var bitmap = new ulong[(pageCount + 63) / 64]; // the kernel writes whole longs
        fixed (ulong* bits = bitmap)
        {
            var log = new KvmDirtyLog { Slot = slot, DirtyBitmap = (ulong)bits };
            Ioctl(KvmApi.GetDirtyLog, (nint)(&log), $"KVM_GET_DIRTY_LOG (slot {slot})");
        }
        if (pages == null) return;
        ulong first = block.GuestAddress / MemoryBlock.PageSize;
        for (int word = 0; word < bitmap.Length; word++)
            for (ulong w = bitmap[word]; w != 0; w &= w - 1)
                pages.Add(first + (ulong)(word * 64 + System.Numerics.BitOperations.TrailingZeroCount(w)));
    }

    internal void Ioctl(nuint request, nint argument, string what) => KvmSystem.Check(Libc.ioctl(Fd, request, argument), what);

    /// <summary>Like <see cref="Ioctl"/>, but a VM already disposed (or being disposed) is skipped instead of an error.</summary>
    internal void IoctlUnlessClosed(nuint request, nint argument, string what)
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            Ioctl(request, argument, what);
        }
        catch (ObjectDisposedException) { }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    public void Dispose()
    {
        KvmCpu[] cpus;
        lock (_cpus)
        {
            cpus = [.. _cpus];
            _cpus.Clear();
        }
        foreach (var cpu in cpus) cpu.Dispose();
        StopDirtyTracking();
        _fd.Dispose();
    }
}
