using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VirtShell.Cpu.Kvm;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Devices.Hypercall;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Kvm;

/// <summary>
/// KVM exits without /dev/kvm: a page shaped like <c>struct kvm_run</c> is filled as the kernel fills it on each exit
/// and handed to <see cref="KvmExitDispatch"/>; the tests assert what the machine sees. (The nested-host paths are in
/// <see cref="NestedHostWorkaroundsTests"/>.)
/// </summary>
public sealed unsafe class KvmExitDispatchTests : IDisposable
{
    // The kernel puts port data after kvm_run's own fields, at the offset the exit names; a page on is where it puts it.
    private const int RunSize = 2 * 4096, DataOffset = 4096;

    private readonly byte* _run = (byte*)NativeMemory.AllocZeroed(RunSize);
    private readonly IoPortBus _ports = new();
    private readonly MmioBus _mmio = new();
    private readonly KvmExitDispatch _dispatch;

    public KvmExitDispatchTests() => _dispatch = new KvmExitDispatch(_ports, _mmio, workarounds: null);

    public void Dispose() => NativeMemory.Free(_run);

    internal static T* Exit<T>(byte* run, KvmApi.ExitReason reason) where T : unmanaged
    {
        ((KvmRunHeader*)run)->ExitReason = (uint)reason;
        return (T*)(run + KvmRunHeader.UnionOffset);
    }

    private Span<byte> PortData => new(_run + DataOffset, 64);

    private void PortExit(bool write, ushort port, int size, uint count) =>
        *Exit<KvmRunIo>(_run, KvmApi.ExitReason.Io) = new KvmRunIo
        {
            Direction = write ? KvmApi.IoOut : (byte)0, Size = (byte)size, Port = port, Count = count, DataOffset = DataOffset,
        };

    private KvmRunMmio* MmioExit(ulong address, int length, bool write)
    {
        var mmio = Exit<KvmRunMmio>(_run, KvmApi.ExitReason.Mmio);
        mmio->PhysAddr = address;
        mmio->Length = (uint)length;
        mmio->IsWrite = write ? (byte)1 : (byte)0;
        return mmio;
    }

    [Fact]
    public void A_string_out_reaches_the_port_bus_once_per_element_and_the_vcpu_runs_on()
    {
        var device = new RecordingDevice();
        _ports.Register(0x3F8, 8, device, "test UART");
        PortExit(write: true, 0x3F8, 1, count: 3);
        "abc"u8.CopyTo(PortData);

        Assert.Null(_dispatch.Dispatch(_run));

        Assert.Equal([(0x3F8UL, 1, (ulong)'a'), (0x3F8UL, 1, (ulong)'b'), (0x3F8UL, 1, (ulong)'c')], device.Writes);
        Assert.Equal(1, _dispatch.IoExits);
        Assert.Equal(0, _dispatch.MmioExits);
    }

    [Fact]
    public void A_port_read_leaves_the_buses_answer_where_the_kernel_completes_the_in()
    {
        _ports.Register(0x60, 2, new RecordingDevice { Answer = 0xBEEF }, "test device");
        PortExit(write: false, 0x60, 2, count: 2);
        Assert.Null(_dispatch.Dispatch(_run));
        Assert.Equal(0xBEEF_BEEFu, BinaryPrimitives.ReadUInt32LittleEndian(PortData));

        PortExit(write: false, 0x1234, 4, count: 1); // nobody there: all ones
        Assert.Null(_dispatch.Dispatch(_run));
        Assert.Equal(0xFFFF_FFFFu, BinaryPrimitives.ReadUInt32LittleEndian(PortData));
    }

    [Fact]
    public void An_mmio_write_reaches_the_device_with_only_the_bytes_the_guest_wrote()
    {
        var device = new RecordingDevice();
        _mmio.Register(0xD000_0000, 0x1000, device, "test window");
        var exit = MmioExit(0xD000_0010, 4, write: true);
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(exit->Data, 8), 0x1122_3344_5566_7788);

        Assert.Null(_dispatch.Dispatch(_run));

        Assert.Equal([(0xD000_0010UL, 4, 0x5566_7788UL)], device.Writes);
        Assert.Equal(1, _dispatch.MmioExits);
    }

    [Fact]
    public void An_mmio_read_result_is_written_back_into_the_exit_at_its_width()
    {
        _mmio.Register(0xD000_0000, 0x1000, new RecordingDevice { Answer = 0xAABB_CCDD_EEFF_0011 }, "test window");
        var exit = MmioExit(0xD000_0000, 2, write: false);
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(exit->Data, 8), ulong.MaxValue);

        Assert.Null(_dispatch.Dispatch(_run));

        Assert.Equal(0x0011UL, BinaryPrimitives.ReadUInt64LittleEndian(new Span<byte>(exit->Data, 8)));
    }

    [Fact]
    public void A_hypercall_is_a_port_write_and_its_power_off_is_the_guests_own_end()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x10_0000);
        MachineExit? end = null;
        var channel = new HypercallChannel("hypercalls", memory, new Dictionary<string, byte[]>(), _ => { }, e => end = e);
        _ports.Register(0x5650, HypercallChannel.PortCount, channel, "hypercalls");
        Span<byte> block = stackalloc byte[HypercallChannel.BlockSize];
        BinaryPrimitives.WriteUInt32LittleEndian(block, HypercallChannel.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], HypercallChannel.CallPowerOff);
        BinaryPrimitives.WriteUInt64LittleEndian(block[8..], 7);
        memory.Write(0x8000, block);
        PortExit(write: true, 0x5650, 4, count: 1);
        BinaryPrimitives.WriteUInt32LittleEndian(PortData, 0x8000);

        Assert.Null(_dispatch.Dispatch(_run));

        Assert.Equal(ExitReason.GuestPowerOff, end?.Reason);
        Assert.Equal(7, end?.Status);
        Assert.False(end?.IsCrash);
    }

    [Theory]
    [InlineData(KvmApi.SystemEventType.Shutdown, CpuExitReason.GuestPowerOff, ExitReason.GuestPowerOff)]
    [InlineData(KvmApi.SystemEventType.Reset, CpuExitReason.GuestReset, ExitReason.GuestReset)]
    internal void A_system_event_is_recorded_as_the_guests_power_off_or_reset_not_as_a_triple_fault(
        KvmApi.SystemEventType type, CpuExitReason cpuExit, ExitReason recorded)
    {
        Exit<KvmRunSystemEvent>(_run, KvmApi.ExitReason.SystemEvent)->Type = (uint)type;

        var exit = _dispatch.Dispatch(_run);

        Assert.Equal(cpuExit, exit?.Reason);
        var end = VirtualMachineRuntime.MachineExitFor(exit!, () => throw new InvalidOperationException("no register dump for the guest's own end"))!;
        Assert.Equal(recorded, end.Reason);
        Assert.False(end.IsCrash);
    }

    [Fact]
    public void Kvm_exit_shutdown_is_a_triple_fault_and_a_crash()
    {
        Exit<byte>(_run, KvmApi.ExitReason.Shutdown);
        var exit = _dispatch.Dispatch(_run)!;
        Assert.Equal(CpuExitReason.TripleFault, exit.Reason);
        Assert.Contains("KVM_EXIT_SHUTDOWN", exit.Detail);
        Assert.True(VirtualMachineRuntime.MachineExitFor(exit, () => new CpuState().Dump())!.IsCrash);
    }

    [Fact]
    public void Hlt_halts_and_an_interrupted_run_is_handed_back_as_the_interruption()
    {
        Exit<byte>(_run, KvmApi.ExitReason.Hlt);
        Assert.Equal(CpuExitReason.Halted, _dispatch.Dispatch(_run)?.Reason);
        Exit<byte>(_run, KvmApi.ExitReason.Intr);
        Assert.Same(KvmExitDispatch.Interrupted, _dispatch.Dispatch(_run));
    }

    [Fact]
    public void Entry_failures_internal_errors_and_exits_nobody_handles_are_internal_errors_that_say_what_kvm_said()
    {
        *Exit<KvmRunFailEntry>(_run, KvmApi.ExitReason.FailEntry) = new KvmRunFailEntry { HardwareEntryFailureReason = 0x21, Cpu = 1 };
        var failEntry = _dispatch.Dispatch(_run)!;
        Assert.Equal(CpuExitReason.InternalError, failEntry.Reason);
        Assert.Contains("reason 0x21 on CPU 1", failEntry.Detail);

        // An emulation failure of FWAIT with its instruction bytes: on a host without workarounds, the failure it is.
        var error = Exit<KvmRunInternal>(_run, KvmApi.ExitReason.InternalError);
        error->Suberror = (uint)KvmApi.InternalErrorSuberror.Emulation;
        error->NData = 2;
        error->Data[0] = 1;
        error->Data[1] = 1 | 0x9B << 8;
        var internalError = _dispatch.Dispatch(_run)!;
        Assert.Equal(CpuExitReason.InternalError, internalError.Reason);
        Assert.Contains("could not emulate an instruction", internalError.Detail);
        Assert.Contains("data 0x1 0x9b01", internalError.Detail);

        Exit<byte>(_run, KvmApi.ExitReason.Hypercall);
        Assert.Contains("unexpected KVM exit Hypercall (3)", _dispatch.Dispatch(_run)!.Detail);
        *Exit<ulong>(_run, KvmApi.ExitReason.Unknown) = 0x30;
        Assert.Contains("unknown hardware reason 0x30", _dispatch.Dispatch(_run)!.Detail);
    }

    private sealed class RecordingDevice : IPortDevice, IMmioDevice
    {
        public List<(ulong Address, int Size, ulong Value)> Writes { get; } = [];
        public ulong Answer { get; init; }

        public uint ReadPort(ushort port, int size) => (uint)Answer;
        public void WritePort(ushort port, int size, uint value) => Writes.Add((port, size, value));
        public ulong ReadMmio(ulong address, int size) => Answer;
        public void WriteMmio(ulong address, int size, ulong value) => Writes.Add((address, size, value));
    }
}
