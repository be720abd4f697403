using VirtShell.Cpu.Kvm.Native;
using VirtShell.Cpu.Kvm.NestedHost;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Native;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// One KVM vCPU. <see cref="Run"/> loops in KVM_RUN and hands each exit to <see cref="KvmExitDispatch"/>, which serves
/// port I/O on the <see cref="IoPortBus"/> and MMIO on the <see cref="MmioBus"/>; it returns only for what the machine
/// must act on. With the in-kernel irqchip, HLT waits inside the kernel until an interrupt arrives, so
/// <see cref="CpuExitReason.Halted"/> is never returned. On a host whose KVM needs them, the vCPU has
/// <see cref="NestedHostWorkarounds"/>, which it lets read and write its registers (<see cref="IVcpuAccess"/>).
/// </summary>
/// <remarks>
/// <see cref="Run"/>, <see cref="GetState"/> and <see cref="SetState"/> belong to the vCPU thread (or to any thread
/// while the vCPU is not running); <see cref="RequestExit"/> may come from anywhere.
/// </remarks>
public sealed unsafe partial class KvmCpu : IX86Cpu, IVcpuAccess
{
    private readonly KvmVirtualMachine _vm;
    private readonly FileDescriptor _fd;
    private readonly KvmExitDispatch _dispatch;
    /// <summary>Null where the host's KVM needs none (<see cref="KvmVirtualMachine.PageFaultHandlerPatch"/> says).</summary>
    private readonly NestedHostWorkarounds? _workarounds;
    private readonly object _kickLock = new();
    private byte* _run;
    private readonly int _runSize;

    // The stop handshake with RequestExit (see there): both sides write one flag, then read the other's.
    private int _exitRequested;
    private int _inKvmRun;
    private nuint _thread;

    private long _exits;

    public int Id { get; }

    internal KvmCpu(KvmVirtualMachine vm, int id, IoPortBus ports, MmioBus mmio)
    {
        Id = id;
        _vm = vm;
        _ = VcpuKick.Signal; // install the kick handler before any thread can need it
        if (vm.PageFaultHandlerPatch is { } patch) _workarounds = new NestedHostWorkarounds(this, vm.Memory, patch);
        _dispatch = new KvmExitDispatch(ports, mmio, _workarounds);
        _fd = new FileDescriptor(KvmSystem.Check(Libc.ioctl(vm.Fd, KvmApi.CreateVcpu, id), $"KVM_CREATE_VCPU {id}"));
        try
        {
            _runSize = vm.VcpuMmapSize;
            nint run = Libc.mmap(0, (nuint)_runSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, _fd.Value, 0);
            if (run == Libc.MAP_FAILED) throw new KvmException(Libc.Failure($"mmap of kvm_run for vCPU {id}", Libc.LastError));
            _run = (byte*)run;
            KvmCpuSetup.SetCpuid(_fd, id, vm.SupportedCpuid);
            KvmCpuSetup.SetMsrs(_fd, vm.MsrIndexList);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>KVM does not count guest instructions; this stays 0. See <see cref="Exits"/> for what it does count.</summary>
    public long InstructionsRetired => 0;

    /// <summary>Every return from KVM_RUN, whatever the reason.</summary>
    public long Exits => Volatile.Read(ref _exits);
    public long IoExits => _dispatch.IoExits;
    public long MmioExits => _dispatch.MmioExits;
    /// <summary>Instructions KVM's emulator handed back that this backend completed (<see cref="NestedHostWorkarounds"/>; 0 on other hosts).</summary>
    public long CompletedUnemulated => _workarounds?.CompletedUnemulated ?? 0;
    /// <summary>System calls whose ring switch the host left undone and this backend finished (<see cref="NestedHostWorkarounds"/>; 0 on other hosts).</summary>
    public long CompletedSyscalls => _workarounds?.CompletedSyscalls ?? 0;

    private KvmRunHeader* Header => (KvmRunHeader*)_run;

    public CpuExit Run()
    {
        ObjectDisposedException.ThrowIf(_run == null, this);
        _thread = Libc.pthread_self();
        while (true)
        {
            Interlocked.Exchange(ref _inKvmRun, 1);
            // A request that came while we were outside KVM_RUN: enter anyway, with immediate_exit set, so that the
            // kernel finishes the last port or MMIO read (it completes only on the next KVM_RUN), then returns.
            if (Volatile.Read(ref _exitRequested) != 0) Header->ImmediateExit = 1;
            int result = Libc.ioctl(_fd.Value, KvmApi.Run, 0);
            int errno = result < 0 ? Libc.LastError : 0;
            Interlocked.Exchange(ref _inKvmRun, 0);
            _exits++;

            if (result < 0)
            {
                if (errno is not (Libc.EINTR or Libc.EAGAIN))
                    return new CpuExit(CpuExitReason.InternalError, Libc.Failure("KVM_RUN", errno));
                Header->ImmediateExit = 0;
                if (Interlocked.Exchange(ref _exitRequested, 0) != 0) return new CpuExit(CpuExitReason.ExitRequested);
                continue; // a signal that was not ours (the runtime's own): just go on
            }

            var exit = _dispatch.Dispatch(_run);
            if (exit == null) continue;
            if (exit == KvmExitDispatch.Interrupted)
            {
                if (Interlocked.Exchange(ref _exitRequested, 0) == 0) continue;
                Header->ImmediateExit = 0;
            }
            return exit;
        }
    }

    /// <summary>
    /// Makes <see cref="Run"/> return <see cref="CpuExitReason.ExitRequested"/>. We raise the flag and
    /// immediate_exit, then kick the thread only if it is inside KVM_RUN; the vCPU thread marks itself inside, then
    /// looks at the flag. With a full fence on both sides one of the two always sees the other, so a request is
    /// never lost and a signal never lands on a thread that is running managed code.
    /// </summary>
    public void RequestExit()
    {
        Interlocked.Exchange(ref _exitRequested, 1);
        lock (_kickLock)
        {
            if (_run == null) return;
            Header->ImmediateExit = 1;
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _inKvmRun) != 0) VcpuKick.Kick(_thread);
        }
    }

    public CpuState GetState()
    {
        KvmRegs regs;
        KvmSregs sregs;
        KvmXsave xsave;
        Ioctl(KvmApi.GetRegs, (nint)(&regs), "KVM_GET_REGS");
        Ioctl(KvmApi.GetSregs, (nint)(&sregs), "KVM_GET_SREGS");
        Ioctl(KvmApi.GetXsave, (nint)(&xsave), "KVM_GET_XSAVE");
        var state = new CpuState();
        KvmStateMapping.Read(regs, sregs, state);
        KvmStateMapping.Read(xsave.Region, state.Fpu);
        return state;
    }

    public void SetState(CpuState state)
    {
        KvmSregs sregs;
        Ioctl(KvmApi.GetSregs, (nint)(&sregs), "KVM_GET_SREGS");
        KvmStateMapping.Write(state, ref sregs);
        Ioctl(KvmApi.SetSregs, (nint)(&sregs), "KVM_SET_SREGS");
        var regs = KvmStateMapping.ToRegs(state);
        Ioctl(KvmApi.SetRegs, (nint)(&regs), "KVM_SET_REGS");
        // KVM_SET_FPU would leave MXCSR behind; the XSAVE area carries it, and AVX state CpuState does not hold stays.
        KvmXsave xsave;
        Ioctl(KvmApi.GetXsave, (nint)(&xsave), "KVM_GET_XSAVE");
        KvmStateMapping.Write(state.Fpu, xsave.Region);
        Ioctl(KvmApi.SetXsave, (nint)(&xsave), "KVM_SET_XSAVE");
        // A state says where to run from: a vCPU the kernel holds halted (after HLT) must run again, or it would sit
        // in KVM_RUN until an interrupt came.
        uint runnable = KvmApi.MpStateRunnable;
        Ioctl(KvmApi.SetMpState, (nint)(&runnable), "KVM_SET_MP_STATE");
    }

    private void Ioctl(nuint request, nint argument, string what) =>
        KvmSystem.Check(Libc.ioctl(_fd.Value, request, argument), $"{what} (vCPU {Id})");

    KvmRegs IVcpuAccess.GetRegs()
    {
        KvmRegs regs;
        Ioctl(KvmApi.GetRegs, (nint)(&regs), "KVM_GET_REGS");
        return regs;
    }

    void IVcpuAccess.SetRegs(KvmRegs regs) => Ioctl(KvmApi.SetRegs, (nint)(&regs), "KVM_SET_REGS");

    KvmSregs IVcpuAccess.GetSregs()
    {
        KvmSregs sregs;
        Ioctl(KvmApi.GetSregs, (nint)(&sregs), "KVM_GET_SREGS");
        return sregs;
    }

    void IVcpuAccess.SetSregs(KvmSregs sregs) => Ioctl(KvmApi.SetSregs, (nint)(&sregs), "KVM_SET_SREGS");

    ushort IVcpuAccess.GetFpuStatus()
    {
        KvmXsave xsave;
        Ioctl(KvmApi.GetXsave, (nint)(&xsave), "KVM_GET_XSAVE");
        return *(ushort*)(xsave.Region + KvmXsave.Fsw);
    }

    /// <summary>KVM_TRANSLATE; null where nothing is mapped.</summary>
    ulong? IVcpuAccess.Translate(ulong linear)
    {
        var translation = new KvmTranslation { LinearAddress = linear };
        if (Libc.ioctl(_fd.Value, KvmApi.Translate, (nint)(&translation)) < 0 || translation.Valid == 0) return null;
        return translation.PhysicalAddress;
    }

    ulong IVcpuAccess.ReadMsr(uint index)
    {
        var buffer = new MsrBuffer { Count = 1, Entry = new KvmMsrEntry { Index = index } };
        if (Libc.ioctl(_fd.Value, KvmApi.GetMsrs, (nint)(&buffer)) != 1)
            throw new KvmException($"KVM_GET_MSRS could not read MSR 0x{index:x} (vCPU {Id})");
        return buffer.Entry.Data;
    }

    internal void WriteMsr(uint index, ulong value)
    {
        var buffer = new MsrBuffer { Count = 1, Entry = new KvmMsrEntry { Index = index, Data = value } };
        if (Libc.ioctl(_fd.Value, KvmApi.SetMsrs, (nint)(&buffer)) != 1)
            throw new KvmException($"KVM_SET_MSRS refused 0x{value:x} for MSR 0x{index:x} (vCPU {Id})");
    }

    /// <summary>struct kvm_msrs with room for one entry.</summary>
    private struct MsrBuffer
    {
        public uint Count;
        private readonly uint _padding;
        public KvmMsrEntry Entry;
    }

    public void Dispose()
    {
        lock (_kickLock)
        {
            if (_run != null)
            {
                Libc.munmap((nint)_run, (nuint)_runSize);
                _run = null;
            }
        }
        _fd.Dispose();
    }
}
