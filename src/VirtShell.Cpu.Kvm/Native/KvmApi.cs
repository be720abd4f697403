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
    public const nuint SetUserMemoryRegion = 0x4020AE46;
    public const nuint SetTssAddr = 0xAE47;
    public const nuint SetIdentityMapAddr = 0x4008AE48;
    public const nuint CreateIrqchip = 0xAE60;
    public const nuint IrqLine = 0x4008AE61;
    public const nuint CreatePit2 = 0x4040AE77;

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
    public const nuint SetMpState = 0x4004AE99;
    public const uint MpStateRunnable = 0;

    public enum Capability
    {
        Irqchip = 0,
        UserMemory = 3,
        SetTssAddr = 4,
        ExtCpuid = 7,
        NrMemslots = 10,
        Pit2 = 33,
        SetIdentityMapAddr = 37,
        Xsave = 55,
        ImmediateExit = 136,
    }

    /// <summary>What every VM of ours needs; a host without one of them cannot run the hardware model.</summary>
    public static readonly Capability[] Required =
    [
        Capability.UserMemory, Capability.Irqchip, Capability.Pit2, Capability.SetTssAddr,
        Capability.SetIdentityMapAddr, Capability.ExtCpuid, Capability.ImmediateExit, Capability.Xsave,
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
