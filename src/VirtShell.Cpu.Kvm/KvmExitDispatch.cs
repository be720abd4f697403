using System.Buffers.Binary;
using System.Text;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Cpu.Kvm.NestedHost;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// What a return from KVM_RUN means, read from the vCPU's kvm_run page: port I/O (string I/O with its repeat count
/// included) served on the <see cref="IoPortBus"/>, MMIO on the <see cref="MmioBus"/>, the result of a read written
/// back for the kernel to complete; everything else becomes the <see cref="CpuExit"/> the machine acts on. It makes
/// no ioctl itself (what <see cref="NestedHostWorkarounds"/> does goes through its own narrow view of the vCPU), so a
/// kvm_run-shaped buffer drives it without /dev/kvm.
/// </summary>
internal sealed unsafe class KvmExitDispatch(IoPortBus ports, MmioBus mmio, NestedHostWorkarounds? workarounds)
{
    /// <summary>KVM_EXIT_INTR: a signal interrupted KVM_RUN. The caller ends the run only if an exit was requested.</summary>
    public static readonly CpuExit Interrupted = new(CpuExitReason.ExitRequested);

    private long _ioExits, _mmioExits;

    public long IoExits => Volatile.Read(ref _ioExits);
    public long MmioExits => Volatile.Read(ref _mmioExits);

    /// <summary>
    /// Serves the exit described by <paramref name="run"/> (a <c>struct kvm_run</c>, with the port data at the offset
    /// it names): null when the vCPU should simply enter KVM_RUN again, otherwise why it stopped.
    /// </summary>
    public CpuExit? Dispatch(byte* run)
    {
        byte* union = run + KvmRunHeader.UnionOffset;
        var reason = (KvmApi.ExitReason)((KvmRunHeader*)run)->ExitReason;
        switch (reason)
        {
            case KvmApi.ExitReason.Io:
                _ioExits++;
                ServePortIo(run, (KvmRunIo*)union);
                workarounds?.CheckPageFaultHandler();
                return null;
            case KvmApi.ExitReason.Mmio:
                _mmioExits++;
                ServeMmio((KvmRunMmio*)union);
                workarounds?.CheckPageFaultHandler();
                return null;
            case KvmApi.ExitReason.Intr:
                return Interrupted;
            case KvmApi.ExitReason.Hlt:
                return new CpuExit(CpuExitReason.Halted);
            case KvmApi.ExitReason.Shutdown:
                return new CpuExit(CpuExitReason.TripleFault, "triple fault: the guest took an exception it could not deliver (KVM_EXIT_SHUTDOWN)");
            case KvmApi.ExitReason.SystemEvent:
                return SystemEvent(((KvmRunSystemEvent*)union)->Type);
            case KvmApi.ExitReason.FailEntry:
            {
                var fail = (KvmRunFailEntry*)union;
                return new CpuExit(CpuExitReason.InternalError,
                    $"KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY): hardware entry failure reason 0x{fail->HardwareEntryFailureReason:x} on CPU {fail->Cpu}");
            }
            case KvmApi.ExitReason.InternalError:
                var error = (KvmRunInternal*)union;
                if (UnemulatedInstruction(error) is { } firstByte && workarounds?.TryCompleteUnemulated(firstByte) == true) return null;
                return InternalError(error);
            case KvmApi.ExitReason.Unknown:
                return new CpuExit(CpuExitReason.InternalError,
                    $"KVM exit with unknown hardware reason 0x{*(ulong*)union:x} (KVM_EXIT_UNKNOWN)");
            default:
                return new CpuExit(CpuExitReason.InternalError, $"unexpected KVM exit {reason} ({(uint)reason})");
        }
    }

    private void ServePortIo(byte* run, KvmRunIo* io)
    {
        byte* data = run + io->DataOffset;
        int size = io->Size;
        for (uint i = 0; i < io->Count; i++, data += size)
        {
            if (io->Direction == KvmApi.IoOut)
            {
                uint value = size switch { 1 => *data, 2 => *(ushort*)data, _ => *(uint*)data };
                ports.Write(io->Port, size, value);
            }
            else
            {
                uint value = ports.Read(io->Port, size);
                switch (size)
                {
                    case 1: *data = (byte)value; break;
                    case 2: *(ushort*)data = (ushort)value; break;
                    default: *(uint*)data = value; break;
                }
            }
        }
    }

    private void ServeMmio(KvmRunMmio* access)
    {
        int length = (int)access->Length;
        var data = new Span<byte>(access->Data, 8);
        if (access->IsWrite != 0)
        {
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(data) & Mask(length);
            mmio.Write(access->PhysAddr, length, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data, mmio.Read(access->PhysAddr, length) & Mask(length));
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

    /// <summary>
    /// The first byte of the instruction KVM's emulator gave up on, when the error is an emulation failure that
    /// carries the instruction (KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES: data[1] holds the length and the
    /// first 7 bytes); null otherwise.
    /// </summary>
    private static byte? UnemulatedInstruction(KvmRunInternal* error)
    {
        if ((KvmApi.InternalErrorSuberror)error->Suberror != KvmApi.InternalErrorSuberror.Emulation || error->NData < 2
            || (error->Data[0] & 1) == 0 || (byte)error->Data[1] == 0)
            return null;
        return (byte)(error->Data[1] >> 8);
    }

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
}
