using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Native;
using VirtShell.Engine.State;

namespace VirtShell.Cpu.Kvm;

// The vCPU in a saved state: the architectural registers as every backend writes them (CpuStateSection), then what
// KVM keeps besides (KvmVcpuState). The guest's dirty pages are the VM's: one log for all its slots.
public sealed unsafe partial class KvmCpu : IDeviceState, IDirtyPageTracking
{
    public void SaveState(StateWriter writer)
    {
        if (_vm.StateUnsupportedReason is { } why) throw new StateNotSupportedException(why);
        CpuStateSection.Write(writer, GetState());
        CaptureExtras().Write(writer);
    }

    public void RestoreState(StateReader reader)
    {
        if (_vm.StateUnsupportedReason is { } why) throw new StateNotSupportedException(why);
        var state = CpuStateSection.Read(reader);
        var extras = KvmVcpuState.Read(reader);
        var missing = extras.Msrs.Where(m => !_vm.MsrIndexList.Contains(m.Index)).ToList();
        if (missing.Count > 0)
            throw new StateNotSupportedException($"KVM on this host does not keep MSR {string.Join(", ", missing.Select(m => $"0x{m.Index:x}"))}, which the saved vCPU has");
        Apply(state, extras);
    }

    public void StartDirtyTracking() => _vm.StartDirtyTracking();
    public IReadOnlyList<ulong> CollectDirtyPages() => _vm.CollectDirtyPages();
    public void StopDirtyTracking() => _vm.StopDirtyTracking();

    private KvmVcpuState CaptureExtras()
    {
        var s = new KvmVcpuState();
        KvmSregs sregs;
        Ioctl(KvmApi.GetSregs, (nint)(&sregs), "KVM_GET_SREGS");
        (s.Cr8, s.ApicBase) = (sregs.Cr8, sregs.ApicBase);
        for (int i = 0; i < 4; i++) s.InterruptBitmap[i] = sregs.InterruptBitmap[i];

        KvmXsave xsave;
        Ioctl(KvmApi.GetXsave, (nint)(&xsave), "KVM_GET_XSAVE");
        new ReadOnlySpan<byte>(xsave.Region, s.Xsave.Length).CopyTo(s.Xsave);

        KvmXcrs xcrs;
        Ioctl(KvmApi.GetXcrs, (nint)(&xcrs), "KVM_GET_XCRS");
        for (int i = 0; i < (int)Math.Min(xcrs.Count, KvmXcrs.Max); i++) s.Xcrs.Add((xcrs.Xcrs[i].Xcr, xcrs.Xcrs[i].Value));

        var indices = KvmVcpuState.SavedMsrs.Where(_vm.MsrIndexList.Contains).ToArray();
        var msrs = new KvmMsrs { Count = (uint)indices.Length };
        for (int i = 0; i < indices.Length; i++) msrs.Entries[i] = new KvmMsrEntry { Index = indices[i] };
        int read = KvmSystem.Check(Libc.ioctl(_fd.Value, KvmApi.GetMsrs, (nint)(&msrs)), $"KVM_GET_MSRS (vCPU {Id})");
        if (read != indices.Length) throw new KvmException($"KVM_GET_MSRS could not read MSR 0x{indices[read]:x} (vCPU {Id})");
        for (int i = 0; i < indices.Length; i++) s.Msrs.Add((indices[i], msrs.Entries[i].Data));

        KvmDebugregs debug;
        Ioctl(KvmApi.GetDebugregs, (nint)(&debug), "KVM_GET_DEBUGREGS");
        for (int i = 0; i < 4; i++) s.DebugRegisters[i] = debug.Db[i];
        (s.DebugRegisters[4], s.DebugRegisters[5]) = (debug.Dr6, debug.Dr7);

        KvmVcpuEvents events;
        Ioctl(KvmApi.GetVcpuEvents, (nint)(&events), "KVM_GET_VCPU_EVENTS");
        new ReadOnlySpan<byte>(&events, sizeof(KvmVcpuEvents)).CopyTo(s.Events);

        KvmMpState mp;
        Ioctl(KvmApi.GetMpState, (nint)(&mp), "KVM_GET_MP_STATE");
        s.MpState = mp.MpState;

        KvmLapicState lapic;
        Ioctl(KvmApi.GetLapic, (nint)(&lapic), "KVM_GET_LAPIC");
        new ReadOnlySpan<byte>(lapic.Regs, KvmLapicState.Size).CopyTo(s.Lapic);
        return s;
    }

    /// <summary>
    /// Puts a saved vCPU back, in the order KVM needs (QEMU's): registers, XSAVE, XCRs, sregs, MSRs, the local APIC,
    /// the TSC deadline (which KVM takes only in the APIC's TSC-deadline mode), the events in flight, the MP state,
    /// the debug registers.
    /// </summary>
    private void Apply(CpuState state, KvmVcpuState s)
    {
        var regs = KvmStateMapping.ToRegs(state);
        Ioctl(KvmApi.SetRegs, (nint)(&regs), "KVM_SET_REGS");

        KvmXsave xsave;
        s.Xsave.CopyTo(new Span<byte>(xsave.Region, s.Xsave.Length));
        KvmStateMapping.Write(state.Fpu, xsave.Region);
        Ioctl(KvmApi.SetXsave, (nint)(&xsave), "KVM_SET_XSAVE");

        var xcrs = new KvmXcrs { Count = (uint)s.Xcrs.Count };
        for (int i = 0; i < s.Xcrs.Count; i++) xcrs.Xcrs[i] = new KvmXcr { Xcr = s.Xcrs[i].Index, Value = s.Xcrs[i].Value };
        Ioctl(KvmApi.SetXcrs, (nint)(&xcrs), "KVM_SET_XCRS");

        var sregs = new KvmSregs { Cr8 = s.Cr8, ApicBase = s.ApicBase };
        for (int i = 0; i < 4; i++) sregs.InterruptBitmap[i] = s.InterruptBitmap[i];
        KvmStateMapping.Write(state, ref sregs);
        Ioctl(KvmApi.SetSregs, (nint)(&sregs), "KVM_SET_SREGS");

        SetMsrs(s.Msrs.Where(m => m.Index != KvmVcpuState.TscDeadline));

        KvmLapicState lapic;
        s.Lapic.CopyTo(new Span<byte>(lapic.Regs, KvmLapicState.Size));
        Ioctl(KvmApi.SetLapic, (nint)(&lapic), "KVM_SET_LAPIC");
        SetMsrs(s.Msrs.Where(m => m.Index == KvmVcpuState.TscDeadline));

        KvmVcpuEvents events;
        s.Events.CopyTo(new Span<byte>(&events, sizeof(KvmVcpuEvents)));
        // Only what every KVM with KVM_CAP_VCPU_EVENTS takes; the payload and triple-fault fields need capabilities we do not enable.
        events.Flags = KvmApi.VcpuEventValidNmiPending | KvmApi.VcpuEventValidShadow;
        Ioctl(KvmApi.SetVcpuEvents, (nint)(&events), "KVM_SET_VCPU_EVENTS");

        var mp = new KvmMpState { MpState = s.MpState };
        Ioctl(KvmApi.SetMpState, (nint)(&mp), "KVM_SET_MP_STATE");

        var debug = new KvmDebugregs { Dr6 = s.DebugRegisters[4], Dr7 = s.DebugRegisters[5] };
        for (int i = 0; i < 4; i++) debug.Db[i] = s.DebugRegisters[i];
        Ioctl(KvmApi.SetDebugregs, (nint)(&debug), "KVM_SET_DEBUGREGS");
    }

    private void SetMsrs(IEnumerable<(uint Index, ulong Value)> values)
    {
        var list = values.ToList();
        if (list.Count == 0) return;
        var msrs = new KvmMsrs { Count = (uint)list.Count };
        for (int i = 0; i < list.Count; i++) msrs.Entries[i] = new KvmMsrEntry { Index = list[i].Index, Data = list[i].Value };
        int set = KvmSystem.Check(Libc.ioctl(_fd.Value, KvmApi.SetMsrs, (nint)(&msrs)), $"KVM_SET_MSRS (vCPU {Id})");
        if (set != list.Count) throw new KvmException($"KVM_SET_MSRS refused 0x{list[set].Value:x} for MSR 0x{list[set].Index:x} (vCPU {Id})");
    }
}
