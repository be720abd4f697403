using System.Buffers.Binary;
using System.Text;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Native;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// One KVM vCPU. <see cref="Run"/> loops in KVM_RUN and serves the exits the kernel hands back: port I/O (string I/O
/// with its repeat count included) to the <see cref="IoPortBus"/>, MMIO to the <see cref="MmioBus"/>; it returns only
/// for what the machine must act on. With the in-kernel irqchip, HLT waits inside the kernel until an interrupt
/// arrives, so <see cref="CpuExitReason.Halted"/> is never returned.
/// </summary>
/// <remarks>
/// <see cref="Run"/>, <see cref="GetState"/> and <see cref="SetState"/> belong to the vCPU thread (or to any thread
/// while the vCPU is not running); <see cref="RequestExit"/> may come from anywhere.
/// </remarks>
public sealed unsafe partial class KvmCpu : IVirtualCpu
{
    private readonly FileDescriptor _fd;
    private readonly IoPortBus _ports;
    private readonly MmioBus _mmio;
    private readonly GuestMemory _memory;
    private readonly object _kickLock = new();
    private byte* _run;
    private readonly int _runSize;

    // The stop handshake with RequestExit (see there): both sides write one flag, then read the other's.
    private int _exitRequested;
    private int _inKvmRun;
    private nuint _thread;

    private long _exits, _ioExits, _mmioExits, _completedUnemulated;

    public int Id { get; }

    internal KvmCpu(KvmVirtualMachine vm, int id, IoPortBus ports, MmioBus mmio)
    {
        Id = id;
        _ports = ports;
        _mmio = mmio;
        _memory = vm.Memory;
        _ = VcpuKick.Signal; // install the kick handler before any thread can need it
        _patch = vm.PageFaultHandlerPatch;
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
    public long IoExits => Volatile.Read(ref _ioExits);
    public long MmioExits => Volatile.Read(ref _mmioExits);
    /// <summary>Instructions KVM's emulator handed back that this backend completed (see <see cref="TryCompleteUnemulated"/>).</summary>
    public long CompletedUnemulated => Volatile.Read(ref _completedUnemulated);

    private KvmRunHeader* Header => (KvmRunHeader*)_run;
    private T* Union<T>() where T : unmanaged => (T*)(_run + KvmRunHeader.UnionOffset);

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

            var reason = (KvmApi.ExitReason)Header->ExitReason;
            switch (reason)
            {
                case KvmApi.ExitReason.Io:
                    _ioExits++;
                    ServePortIo(Union<KvmRunIo>());
                    CheckPageFaultHandler();
                    break;
                case KvmApi.ExitReason.Mmio:
                    _mmioExits++;
                    ServeMmio(Union<KvmRunMmio>());
                    CheckPageFaultHandler();
                    break;
                case KvmApi.ExitReason.Intr:
                    if (Interlocked.Exchange(ref _exitRequested, 0) != 0)
                    {
                        Header->ImmediateExit = 0;
                        return new CpuExit(CpuExitReason.ExitRequested);
                    }
                    break;
                case KvmApi.ExitReason.Hlt:
                    return new CpuExit(CpuExitReason.Halted);
                case KvmApi.ExitReason.Shutdown:
                    return new CpuExit(CpuExitReason.TripleFault, "triple fault: the guest took an exception it could not deliver (KVM_EXIT_SHUTDOWN)");
                case KvmApi.ExitReason.SystemEvent:
                    return SystemEvent(Union<KvmRunSystemEvent>()->Type);
                case KvmApi.ExitReason.FailEntry:
                {
                    var fail = Union<KvmRunFailEntry>();
                    return new CpuExit(CpuExitReason.InternalError,
                        $"KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY): hardware entry failure reason 0x{fail->HardwareEntryFailureReason:x} on CPU {fail->Cpu}");
                }
                case KvmApi.ExitReason.InternalError:
                    if (TryCompleteUnemulated(Union<KvmRunInternal>())) break;
                    return InternalError(Union<KvmRunInternal>());
                case KvmApi.ExitReason.Unknown:
                    return new CpuExit(CpuExitReason.InternalError,
                        $"KVM exit with unknown hardware reason 0x{*Union<ulong>():x} (KVM_EXIT_UNKNOWN)");
                default:
                    return new CpuExit(CpuExitReason.InternalError, $"unexpected KVM exit {reason} ({(uint)reason})");
            }
        }
    }

    private void ServePortIo(KvmRunIo* io)
    {
        byte* data = _run + io->DataOffset;
        int size = io->Size;
        for (uint i = 0; i < io->Count; i++, data += size)
        {
            if (io->Direction == KvmApi.IoOut)
            {
                uint value = size switch { 1 => *data, 2 => *(ushort*)data, _ => *(uint*)data };
                _ports.Write(io->Port, size, value);
            }
            else
            {
                uint value = _ports.Read(io->Port, size);
                switch (size)
                {
                    case 1: *data = (byte)value; break;
                    case 2: *(ushort*)data = (ushort)value; break;
                    default: *(uint*)data = value; break;
                }
            }
        }
    }

    private void ServeMmio(KvmRunMmio* mmio)
    {
        int length = (int)mmio->Length;
        var data = new Span<byte>(mmio->Data, 8);
        if (mmio->IsWrite != 0)
        {
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(data) & Mask(length);
            _mmio.Write(mmio->PhysAddr, length, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data, _mmio.Read(mmio->PhysAddr, length) & Mask(length));
        }
    }

    private static ulong Mask(int bytes) => bytes >= 8 ? ulong.MaxValue : (1UL << (bytes * 8)) - 1;

    /// <summary>What a KVM_EXIT_SYSTEM_EVENT of <paramref name="type"/> means for the run: a power-off and a reset are the guest's choice, not a crash.</summary>
    internal static CpuExit SystemEvent(uint type) => (KvmApi.SystemEventType)type switch
    {
        KvmApi.SystemEventType.Shutdown => new CpuExit(CpuExitReason.GuestPowerOff, "the guest turned the machine off (KVM_SYSTEM_EVENT_SHUTDOWN)"),
        KvmApi.SystemEventType.Reset => new CpuExit(CpuExitReason.GuestReset, "the guest asked for a reset (KVM_SYSTEM_EVENT_RESET); VirtShell machines do not reboot"),
        KvmApi.SystemEventType.Crash => new CpuExit(CpuExitReason.InternalError, "the guest reported a crash (KVM_SYSTEM_EVENT_CRASH)"),
        _ => new CpuExit(CpuExitReason.InternalError, $"unexpected KVM system event {type}"),
    };

    private static CpuExit InternalError(KvmRunInternal* e)
    {
        var what = (KvmApi.InternalErrorSuberror)e->Suberror switch
        {
            KvmApi.InternalErrorSuberror.Emulation => "KVM could not emulate an instruction",
            KvmApi.InternalErrorSuberror.SimultaneousException => "an exception occurred while delivering another",
            KvmApi.InternalErrorSuberror.DeliveryEvent => "an exit occurred while delivering an event",
            KvmApi.InternalErrorSuberror.UnexpectedExitReason => "KVM saw a hardware exit reason it does not handle",
            _ => "KVM internal error",
        };
        var detail = new StringBuilder($"{what} (KVM_EXIT_INTERNAL_ERROR, suberror {e->Suberror})");
        uint n = Math.Min(e->NData, 16u);
        if (n > 0)
        {
            detail.Append("; data");
            for (int i = 0; i < n; i++) detail.Append($" 0x{e->Data[i]:x}");
        }
        return new CpuExit(CpuExitReason.InternalError, detail.ToString());
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
