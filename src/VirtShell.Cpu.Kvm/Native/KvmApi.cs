namespace VirtShell.Cpu.Kvm.Native;

/// <summary>The ioctl numbers and constants of linux/kvm.h this backend uses (x86-64; checked against the header).</summary>
internal static class KvmApi
{
    public const int ExpectedApiVersion = 12;

    // System ioctls on /dev/kvm.
    public const nuint GetApiVersion = 0xAE00;
    public const nuint CreateVm = 0xAE01;
    public const nuint GetMsrIndexList = 0xC004AE02;
    public const nuint CheckExtension = 0xAE03;
    public const nuint GetVcpuMmapSize = 0xAE04;
    public const nuint GetSupportedCpuid = 0xC008AE05;

    // VM ioctls.
    public const nuint CreateVcpu = 0xAE41;
    public const nuint GetDirtyLog = 0x4010AE42;
    public const nuint SetUserMemoryRegion = 0x4020AE46;
    public const nuint SetTssAddr = 0xAE47;
    public const nuint SetIdentityMapAddr = 0x4008AE48;
    public const nuint CreateIrqchip = 0xAE60;
    public const nuint IrqLine = 0x4008AE61;
    public const nuint GetIrqchip = 0xC208AE62;
    public const nuint SetIrqchip = 0x8208AE63;
    public const nuint CreatePit2 = 0x4040AE77;
    public const nuint SetClock = 0x4030AE7B;
    public const nuint GetClock = 0x8030AE7C;
    public const nuint GetPit2 = 0x8070AE9F;
    public const nuint SetPit2 = 0x4070AEA0;

    // vCPU ioctls.
    public const nuint Run = 0xAE80;
    public const nuint GetRegs = 0x8090AE81;
    public const nuint SetRegs = 0x4090AE82;
    public const nuint GetSregs = 0x8138AE83;
    public const nuint SetSregs = 0x4138AE84;
    public const nuint Translate = 0xC018AE85;
    public const nuint GetMsrs = 0xC008AE88;
    public const nuint SetMsrs = 0x4008AE89;
    public const nuint GetXsave = 0x9000AEA4;
    public const nuint SetXsave = 0x5000AEA5;
    public const nuint SetCpuid2 = 0x4008AE90;
    public const nuint GetLapic = 0x8400AE8E;
    public const nuint SetLapic = 0x4400AE8F;
    public const nuint GetMpState = 0x8004AE98;
    public const nuint SetMpState = 0x4004AE99;
    public const nuint GetVcpuEvents = 0x8040AE9F;
    public const nuint SetVcpuEvents = 0x4040AEA0;
    public const nuint GetDebugregs = 0x8080AEA1;
    public const nuint SetDebugregs = 0x4080AEA2;
    public const nuint GetXcrs = 0x8188AEA6;
    public const nuint SetXcrs = 0x4188AEA7;
    public const uint MpStateRunnable = 0;
    /// <summary>The highest KVM_MP_STATE_* value an x86 vCPU can be in (KVM_MP_STATE_AP_RESET_HOLD).</summary>
    public const uint MpStateMax = 9;

    /// <summary>kvm_userspace_memory_region.flags: log the slot's writes for KVM_GET_DIRTY_LOG.</summary>
    public const uint MemLogDirtyPages = 1;

    /// <summary>kvm_irqchip.chip_id of the three in-kernel interrupt controllers.</summary>
    public const uint IrqchipPicMaster = 0, IrqchipPicSlave = 1, IrqchipIoapic = 2;

    /// <summary>kvm_vcpu_events.flags on KVM_SET_VCPU_EVENTS: also set the NMI-pending and interrupt-shadow fields.</summary>
    public const uint VcpuEventValidNmiPending = 0x1, VcpuEventValidShadow = 0x4;

    public enum Capability
    {
        Irqchip = 0,
        UserMemory = 3,
        SetTssAddr = 4,
        ExtCpuid = 7,
        MpState = 14,
        NrMemslots = 10,
        Pit2 = 33,
        PitState2 = 35,
        SetIdentityMapAddr = 37,
        AdjustClock = 39,
        VcpuEvents = 41,
        Debugregs = 50,
        Xsave = 55,
        Xcrs = 56,
        ImmediateExit = 136,
    }

    /// <summary>What every VM of ours needs; a host without one of them cannot run the hardware model.</summary>
    public static readonly Capability[] Required =
    [
        Capability.UserMemory, Capability.Irqchip, Capability.Pit2, Capability.SetTssAddr,
        Capability.SetIdentityMapAddr, Capability.ExtCpuid, Capability.ImmediateExit, Capability.Xsave,
    ];

    /// <summary>
    /// What saving and restoring a machine's state needs besides (every KVM since Linux 3.x has them); a host without
    /// one runs machines but cannot checkpoint or move them.
    /// </summary>
    public static readonly Capability[] RequiredForState =
    [
        Capability.MpState, Capability.PitState2, Capability.AdjustClock, Capability.VcpuEvents, Capability.Debugregs, Capability.Xcrs,
    ];

    public enum ExitReason : uint
    {
        Unknown = 0, Exception = 1, Io = 2, Hypercall = 3, Debug = 4, Hlt = 5, Mmio = 6, IrqWindowOpen = 7,
        Shutdown = 8, FailEntry = 9, Intr = 10, SetTpr = 11, TprAccess = 12, Nmi = 16, InternalError = 17,
        SystemEvent = 24, IoapicEoi = 26,
    }

    public const byte IoOut = 1;

    public enum SystemEventType : uint { Shutdown = 1, Reset = 2, Crash = 3 }

    public enum InternalErrorSuberror : uint { Emulation = 1, SimultaneousException = 2, DeliveryEvent = 3, UnexpectedExitReason = 4 }
}
