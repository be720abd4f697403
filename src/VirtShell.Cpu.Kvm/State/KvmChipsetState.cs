using System.Buffers.Binary;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.State;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// The in-kernel chipset in a saved state (docs/state-format.md, "KVM's chipset"): the kernel's own structures byte
/// for byte — struct kvm_pic_state twice, struct kvm_ioapic_state, struct kvm_pit_state2 — then the guest clock in
/// nanoseconds. Each PIT channel's count_load_time, a host CLOCK_MONOTONIC instant, is kept as its age at the save
/// (<see cref="PitLoadAge"/>), so a counter restored in another process or after a reboot is as far into its count.
/// Reading checks every field a guest could not have put there, so a damaged section never reaches KVM_SET_IRQCHIP.
/// </summary>
public sealed class KvmChipsetState
{
    /// <summary>Where the kernel's I/O APIC sits; it never moves.</summary>
    public const ulong IoapicBase = 0xFEC0_0000;

    private const int PitChannelSize = 24, PitLoadTimeOffset = 16, PitFlagsOffset = 72;
    /// <summary>The mode KVM gives a counter the guest has not programmed (and channel 0 while the HPET replaces it).</summary>
    private const byte PitModeUnset = 0xFF;
    private const uint PitKnownFlags = 0b11; // KVM_PIT_FLAGS_HPET_LEGACY, KVM_PIT_FLAGS_SPEAKER_DATA_ON

    public byte[] MasterPic { get; } = new byte[KvmIrqchip.PicStateSize];
    public byte[] SlavePic { get; } = new byte[KvmIrqchip.PicStateSize];
    public byte[] Ioapic { get; } = new byte[KvmIrqchip.IoapicStateSize];
    public byte[] Pit { get; } = new byte[PitStateSize];
    /// <summary>KVM_GET_CLOCK's nanoseconds: the guest's kvmclock, which goes on from here after a restore.</summary>
    public ulong Clock { get; set; }

    public static unsafe int PitStateSize => sizeof(KvmPitState2);

    /// <summary>The nanoseconds since PIT counter <paramref name="channel"/> was loaded, as <see cref="Pit"/> holds them.</summary>
    public long PitLoadAge(int channel) => BinaryPrimitives.ReadInt64LittleEndian(Pit.AsSpan(channel * PitChannelSize + PitLoadTimeOffset));

    public void Write(StateWriter w)
    {
        w.WriteBytes(MasterPic);
        w.WriteBytes(SlavePic);
        w.WriteBytes(Ioapic);
        w.WriteBytes(Pit);
        w.WriteUInt64(Clock);
    }

    public static KvmChipsetState Read(StateReader r)
    {
        var s = new KvmChipsetState();
        r.ReadExactly(s.MasterPic, "the master 8259's state");
        r.ReadExactly(s.SlavePic, "the slave 8259's state");
        r.ReadExactly(s.Ioapic, "the I/O APIC's state");
        r.ReadExactly(s.Pit, "the 8254's state");
        s.Clock = r.ReadUInt64();
        CheckPic(r, s.MasterPic, "master");
        CheckPic(r, s.SlavePic, "slave");
        ulong ioapicBase = BinaryPrimitives.ReadUInt64LittleEndian(s.Ioapic);
        r.Check(ioapicBase == IoapicBase, $"the I/O APIC is at 0x{ioapicBase:x}, not at 0x{IoapicBase:x} where KVM's always is");
        for (int i = 0; i < 3; i++) CheckPitChannel(r, s.Pit.AsSpan(i * PitChannelSize, PitChannelSize), i);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(s.Pit.AsSpan(PitFlagsOffset));
        r.Check((flags & ~PitKnownFlags) == 0, $"the 8254's flags 0x{flags:x} have bits KVM does not define");
        return s;
    }


    // struct kvm_pic_state: last_irr, irr, imr, isr, priority_add, irq_base, read_reg_select, poll, special_mask,
    // init_state, auto_eoi, rotate_on_auto_eoi, special_fully_nested_mode, init4, elcr, elcr_mask.
    private static void CheckPic(StateReader r, byte[] pic, string which)
    {
        r.Check(pic[4] <= 7, $"the {which} 8259's highest priority input is {pic[4]}");
        r.Check((pic[5] & 7) == 0, $"the {which} 8259's vector base 0x{pic[5]:x} is not a multiple of 8");
        r.Check(pic[9] <= 3, $"the {which} 8259's initialization step is {pic[9]}");
        foreach (int flag in (ReadOnlySpan<int>)[6, 7, 8, 10, 11, 12, 13])
            r.Check(pic[flag] <= 1, $"a flag of the {which} 8259 reads {pic[flag]}");
    }

    // struct kvm_pit_channel_state: count (u32), latched_count (u16), count_latched, status_latched, status,
    // read_state, write_state, write_latch, rw_mode, mode, bcd, gate, then count_load_time (s64, at 16).
    private static void CheckPitChannel(StateReader r, ReadOnlySpan<byte> channel, int i)
    {
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(channel);
        r.Check(count <= 0x10000, $"8254 counter {i} counts from {count}, more than 65536");
        r.Check(channel[6] <= 3 && channel[7] <= 1, $"8254 counter {i}'s latch flags are corrupt");
        r.Check(channel[12] <= 3, $"8254 counter {i}'s access mode is {channel[12]}");
        r.Check(channel[13] <= 5 || channel[13] == PitModeUnset, $"8254 counter {i}'s mode is {channel[13]}");
        r.Check(channel[14] <= 1 && channel[15] <= 1, $"8254 counter {i}'s BCD or gate flag is corrupt");
    }
}
