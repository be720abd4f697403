using System.Buffers.Binary;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.State;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// What a KVM vCPU holds besides <see cref="CpuState"/>, as its saved state writes it after the backend-neutral
/// registers (docs/state-format.md, "KVM's vCPU"): CR8, the APIC base and the interrupt bitmap of kvm_sregs, the whole
/// XSAVE area, the XCRs, the MSRs of <see cref="SavedMsrs"/> that this KVM keeps, the debug registers, the events in
/// flight (struct kvm_vcpu_events), the MP state and the local APIC's register page (struct kvm_lapic_state).
/// </summary>
public sealed class KvmVcpuState
{
    /// <summary>
    /// The MSRs a saved vCPU carries, where KVM lists them (KVM_GET_MSR_INDEX_LIST): TSC and its adjustment, the
    /// SYSENTER and SYSCALL MSRs, KERNEL_GS_BASE, TSC_AUX, PAT, MISC_ENABLE, the MTRR default type, and KVM's
    /// paravirtual clock, async page fault, steal time and PV EOI MSRs. EFER, FS/GS base and the APIC base travel in
    /// kvm_sregs. TSC_DEADLINE comes last: KVM takes it only once the local APIC's timer mode is back.
    /// </summary>
    public static readonly uint[] SavedMsrs =
    [
        X86.MsrTsc, 0x3B /* TSC_ADJUST */, X86.MsrSysenterCs, X86.MsrSysenterEsp, X86.MsrSysenterEip, X86.MsrMiscEnable,
        0x277 /* PAT */, 0x2FF /* MTRR_DEF_TYPE */, X86.MsrStar, X86.MsrLstar, X86.MsrCstar, X86.MsrSfmask,
        X86.MsrKernelGsBase, X86.MsrTscAux,
        0x11 /* KVM_WALL_CLOCK */, 0x12 /* KVM_SYSTEM_TIME */, 0x4B56_4D00 /* KVM_WALL_CLOCK_NEW */,
        0x4B56_4D01 /* KVM_SYSTEM_TIME_NEW */, 0x4B56_4D02 /* KVM_ASYNC_PF_EN */, 0x4B56_4D03 /* KVM_STEAL_TIME */,
        0x4B56_4D04 /* KVM_PV_EOI_EN */, TscDeadline,
    ];

    public const uint TscDeadline = 0x6E0;

    private const int XsaveSize = 4096, XcompBvOffset = 520, EventsSize = 64;
    private const uint KnownEventFlags = 0x3F;

    public ulong Cr8 { get; set; }
    public ulong ApicBase { get; set; }
    public ulong[] InterruptBitmap { get; } = new ulong[4];
    public byte[] Xsave { get; } = new byte[XsaveSize];
    public List<(uint Index, ulong Value)> Xcrs { get; } = [];
    public List<(uint Index, ulong Value)> Msrs { get; } = [];
    /// <summary>DR0-DR3, DR6, DR7.</summary>
    public ulong[] DebugRegisters { get; } = new ulong[6];
    /// <summary>struct kvm_vcpu_events as KVM_GET_VCPU_EVENTS gave it.</summary>
    public byte[] Events { get; } = new byte[EventsSize];
    public uint MpState { get; set; }
    /// <summary>struct kvm_lapic_state: the local APIC's register page.</summary>
    public byte[] Lapic { get; } = new byte[KvmLapicState.Size];

    public void Write(StateWriter w)
    {
        w.WriteUInt64(Cr8);
        w.WriteUInt64(ApicBase);
        foreach (ulong word in InterruptBitmap) w.WriteUInt64(word);
        w.WriteBytes(Xsave);
        WritePairs(w, Xcrs);
        WritePairs(w, Msrs);
        foreach (ulong dr in DebugRegisters) w.WriteUInt64(dr);
        w.WriteBytes(Events);
        w.WriteUInt32(MpState);
        w.WriteBytes(Lapic);
    }

    public static KvmVcpuState Read(StateReader r)
    {
        var s = new KvmVcpuState { Cr8 = r.ReadUInt64(), ApicBase = r.ReadUInt64() };
        for (int i = 0; i < s.InterruptBitmap.Length; i++) s.InterruptBitmap[i] = r.ReadUInt64();
        r.ReadExactly(s.Xsave, "the XSAVE area");
        ReadPairs(r, s.Xcrs, KvmXcrs.Max, "XCR");
        ReadPairs(r, s.Msrs, KvmMsrs.Capacity, "MSR");
        for (int i = 0; i < s.DebugRegisters.Length; i++) s.DebugRegisters[i] = r.ReadUInt64();
        r.ReadExactly(s.Events, "the pending events");
        s.MpState = r.ReadUInt32();
        r.ReadExactly(s.Lapic, "the local APIC's registers");

        r.Check(s.Cr8 <= 15, $"CR8 is {s.Cr8}, more than 15");
        r.Check(s.InterruptBitmap.Sum(w => System.Numerics.BitOperations.PopCount(w)) <= 1, "more than one interrupt is marked as being injected");
        r.Check(BinaryPrimitives.ReadUInt64LittleEndian(s.Xsave.AsSpan(XcompBvOffset)) == 0, "the XSAVE area is in compacted form, which KVM_SET_XSAVE does not take");
        foreach (var (index, _) in s.Msrs)
            r.Check(Array.IndexOf(SavedMsrs, index) >= 0, $"MSR 0x{index:x} is not one a KVM vCPU saves");
        r.Check(s.MpState <= KvmApi.MpStateMax, $"the MP state is {s.MpState}, which KVM does not define");
        CheckEvents(r, s.Events);
        return s;
    }

    // struct kvm_vcpu_events: exception {injected, nr, has_error_code, pending, error_code}, interrupt {injected,
    // nr, soft, shadow}, nmi {injected, pending, masked, pad}, sipi_vector, flags, smi {smm, pending, inside_nmi,
    // latched_init}, triple_fault.pending, reserved[26], exception_has_payload, exception_payload.
    private static void CheckEvents(StateReader r, byte[] e)
    {
        r.Check(e[1] < 32, $"the exception in flight has vector {e[1]}, not an exception's");
        foreach (int flag in (ReadOnlySpan<int>)[0, 2, 3, 8, 10, 12, 13, 14, 24, 25, 26, 27, 28, 55])
            r.Check(e[flag] <= 1, $"a flag of the events in flight reads {e[flag]}");
        r.Check(e[11] <= 3, $"the interrupt shadow reads {e[11]}");
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(e.AsSpan(20));
        r.Check((flags & ~KnownEventFlags) == 0, $"the events' flags 0x{flags:x} have bits KVM does not define");
    }

    private static void WritePairs(StateWriter w, List<(uint Index, ulong Value)> pairs)
    {
        w.WriteInt32(pairs.Count);
        foreach (var (index, value) in pairs)
        {
            w.WriteUInt32(index);
            w.WriteUInt64(value);
        }
    }

    private static void ReadPairs(StateReader r, List<(uint Index, ulong Value)> into, int max, string what)
    {
        int count = r.ReadInt32(0, max, $"the {what} count");
        for (int i = 0; i < count; i++)
        {
            uint index = r.ReadUInt32();
            r.Check(into.All(p => p.Index != index), $"{what} 0x{index:x} appears twice");
            into.Add((index, r.ReadUInt64()));
        }
    }

}
