using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Native;
using VirtShell.Engine.State;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// The in-kernel chipset of a <see cref="KvmVirtualMachine"/> — the 8259 pair, the I/O APIC, the 8254 and the guest
/// clock — as one part of a saved state (<see cref="KvmChipsetState"/>). The platform registers it on the ports the
/// kernel answers itself, so that the bus shows who owns them and a save finds it there; no access ever reaches it.
/// </summary>
public sealed unsafe class KvmChipset : IPortDevice, IDeviceState
{
    private readonly KvmVirtualMachine _vm;

    internal KvmChipset(KvmVirtualMachine vm) => _vm = vm;

    /// <summary>Never called: KVM handles these ports in the kernel. Reads as nothing there, should it ever be.</summary>
    public uint ReadPort(ushort port, int size) => uint.MaxValue;

    public void WritePort(ushort port, int size, uint value) { }

    public void SaveState(StateWriter writer) => Capture().Write(writer);

    public void RestoreState(StateReader reader) => Apply(KvmChipsetState.Read(reader));

    internal KvmChipsetState Capture()
    {
        var state = new KvmChipsetState();
        foreach (var (id, bytes, size) in Chips(state))
        {
            var chip = new KvmIrqchip { ChipId = id };
            _vm.Ioctl(KvmApi.GetIrqchip, (nint)(&chip), $"KVM_GET_IRQCHIP {id}");
            new ReadOnlySpan<byte>(chip.Chip, size).CopyTo(bytes);
        }
        KvmPitState2 pit;
        _vm.Ioctl(KvmApi.GetPit2, (nint)(&pit), "KVM_GET_PIT2");
        long now = MonotonicNanoseconds();
        pit.Channel0.CountLoadTime = now - pit.Channel0.CountLoadTime;
        pit.Channel1.CountLoadTime = now - pit.Channel1.CountLoadTime;
        pit.Channel2.CountLoadTime = now - pit.Channel2.CountLoadTime;
        new ReadOnlySpan<byte>(&pit, sizeof(KvmPitState2)).CopyTo(state.Pit);
        KvmClockData clock;
        _vm.Ioctl(KvmApi.GetClock, (nint)(&clock), "KVM_GET_CLOCK");
        state.Clock = clock.Clock;
        return state;
    }

    internal void Apply(KvmChipsetState state)
    {
        foreach (var (id, bytes, size) in Chips(state))
        {
            var chip = new KvmIrqchip { ChipId = id };
            bytes.AsSpan(0, size).CopyTo(new Span<byte>(chip.Chip, size));
            _vm.Ioctl(KvmApi.SetIrqchip, (nint)(&chip), $"KVM_SET_IRQCHIP {id}");
        }
        KvmPitState2 pit;
        state.Pit.CopyTo(new Span<byte>(&pit, sizeof(KvmPitState2)));
        // Counters 1 and 2 keep the load time they are given (KVM reloads only counter 0): as long ago as at the save.
        long now = MonotonicNanoseconds();
        pit.Channel0.CountLoadTime = now - state.PitLoadAge(0);
        pit.Channel1.CountLoadTime = now - state.PitLoadAge(1);
        pit.Channel2.CountLoadTime = now - state.PitLoadAge(2);
        _vm.Ioctl(KvmApi.SetPit2, (nint)(&pit), "KVM_SET_PIT2");
        var clock = new KvmClockData { Clock = state.Clock };
        _vm.Ioctl(KvmApi.SetClock, (nint)(&clock), "KVM_SET_CLOCK");
    }

    /// <summary>CLOCK_MONOTONIC, the clock of the kernel's ktime_get(), which count_load_time is measured on.</summary>
    private static long MonotonicNanoseconds()
    {
        const int ClockMonotonic = 1;
        if (Libc.clock_gettime(ClockMonotonic, out var t) != 0) throw new KvmException(Libc.Failure("clock_gettime(CLOCK_MONOTONIC)", Libc.LastError));
        return t.Seconds * 1_000_000_000 + t.Nanoseconds;
    }

    private static (uint Id, byte[] Bytes, int Size)[] Chips(KvmChipsetState state) =>
    [
        (KvmApi.IrqchipPicMaster, state.MasterPic, KvmIrqchip.PicStateSize),
        (KvmApi.IrqchipPicSlave, state.SlavePic, KvmIrqchip.PicStateSize),
        (KvmApi.IrqchipIoapic, state.Ioapic, KvmIrqchip.IoapicStateSize),
    ];
}
