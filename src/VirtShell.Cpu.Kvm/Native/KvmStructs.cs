using System.Runtime.InteropServices;

namespace VirtShell.Cpu.Kvm.Native;

// The kernel's structures, field for field (linux/kvm.h, asm/kvm.h for x86-64). Sizes are pinned by the ioctl
// numbers in KvmApi, which encode them.

[StructLayout(LayoutKind.Sequential)]
internal struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmIrqLevel
{
    public uint Irq;
    public uint Level;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmPitConfig
{
    public uint Flags;
    public fixed uint Pad[15];
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmRegs
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmSegment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type, Present, Dpl, Db, S, L, G, Avl, Unusable, Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmDtable
{
    public ulong Base;
    public ushort Limit;
    public fixed ushort Padding[3];
}

/// <summary>
/// struct kvm_xsave: the guest's XSAVE area in standard format. It starts with the legacy FXSAVE region (x87 and SSE),
/// followed at 512 by the XSAVE header, whose first word says which components the area holds.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmXsave
{
    public const int Fcw = 0, Fsw = 2, Ftw = 4, LastOpcode = 6, LastIp = 8, LastDp = 16, Mxcsr = 24, St = 32, Xmm = 160, XstateBv = 512;
    /// <summary>XSTATE_BV bits 0 and 1: the x87 and SSE state in the area are live, not to be taken as reset.</summary>
    public const ulong X87AndSse = 0b11;

    public fixed byte Region[4096];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmSregs
{
    public KvmSegment Cs, Ds, Es, Fs, Gs, Ss, Tr, Ldt;
    public KvmDtable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8, Efer, ApicBase;
    public fixed ulong InterruptBitmap[4];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmCpuidEntry2
{
    public uint Function, Index, Flags, Eax, Ebx, Ecx, Edx;
    public fixed uint Padding[3];
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmMsrEntry
{
    public uint Index, Reserved;
    public ulong Data;
}

/// <summary>
/// The head of the mmap'd <c>struct kvm_run</c> and the union members we read. The union starts at offset 32;
/// each exit's view is read through its own struct at <see cref="UnionOffset"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunHeader
{
    public const int UnionOffset = 32;

    public byte RequestInterruptWindow;
    public byte ImmediateExit;
    private readonly ushort _padding1a;
    private readonly uint _padding1b;
    public uint ExitReason;
    public byte ReadyForInterruptInjection, IfFlag;
    public ushort Flags;
    public ulong Cr8, ApicBase;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunIo
{
    public byte Direction, Size;
    public ushort Port;
    public uint Count;
    /// <summary>From the start of kvm_run.</summary>
    public ulong DataOffset;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmRunMmio
{
    public ulong PhysAddr;
    public fixed byte Data[8];
    public uint Length;
    public byte IsWrite;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmRunInternal
{
    public uint Suberror, NData;
    public fixed ulong Data[16];
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunFailEntry
{
    public ulong HardwareEntryFailureReason;
    public uint Cpu;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmRunSystemEvent
{
    public uint Type, NData;
    public fixed ulong Data[16];
}

/// <summary>struct kvm_translation: a guest linear address through the vCPU's current page tables.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmTranslation
{
    public ulong LinearAddress, PhysicalAddress;
    public byte Valid, Writeable, Usermode;
    public fixed byte Pad[5];
}

/// <summary>struct kvm_msrs with room for <see cref="Capacity"/> entries (KVM_GET_MSRS/KVM_SET_MSRS answer how many they did).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmMsrs
{
    public const int Capacity = 32;

    public uint Count;
    private readonly uint _padding;
    public MsrEntries Entries;

    [System.Runtime.CompilerServices.InlineArray(Capacity)]
    public struct MsrEntries
    {
        private KvmMsrEntry _first;
    }
}

/// <summary>struct kvm_lapic_state: the local APIC's 1 KiB register page as KVM keeps it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmLapicState
{
    public const int Size = 0x400;
    public fixed byte Regs[Size];
}

/// <summary>struct kvm_vcpu_events: the exception, interrupt and NMI in flight, the interrupt shadow, SMM and SIPI.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmVcpuEvents
{
    public byte ExceptionInjected, ExceptionNr, ExceptionHasErrorCode, ExceptionPending;
    public uint ExceptionErrorCode;
    public byte InterruptInjected, InterruptNr, InterruptSoft, InterruptShadow;
    public byte NmiInjected, NmiPending, NmiMasked, NmiPad;
    public uint SipiVector;
    public uint Flags;
    public byte Smm, SmiPending, SmmInsideNmi, LatchedInit;
    public byte TripleFaultPending;
    public fixed byte Reserved[26];
    public byte ExceptionHasPayload;
    public ulong ExceptionPayload;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KvmXcr
{
    public uint Xcr, Reserved;
    public ulong Value;
}

/// <summary>struct kvm_xcrs: the extended control registers (XCR0, which says what XSAVE covers).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmXcrs
{
    public const int Max = 16;

    public uint Count, Flags;
    public XcrArray Xcrs;
    public fixed ulong Padding[16];

    [System.Runtime.CompilerServices.InlineArray(Max)]
    public struct XcrArray
    {
        private KvmXcr _first;
    }
}

/// <summary>struct kvm_debugregs: DR0-3, DR6, DR7.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmDebugregs
{
    public fixed ulong Db[4];
    public ulong Dr6, Dr7, Flags;
    public fixed ulong Reserved[9];
}

/// <summary>struct kvm_mp_state: runnable, halted, waiting for INIT/SIPI...</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmMpState
{
    public uint MpState;
}

/// <summary>
/// struct kvm_irqchip: one of the in-kernel interrupt controllers (<see cref="KvmApi.IrqchipPicMaster"/>, slave,
/// I/O APIC), its state in a 512-byte union: struct kvm_pic_state (16 bytes) or struct kvm_ioapic_state (216).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmIrqchip
{
    public const int ChipSize = 512, PicStateSize = 16, IoapicStateSize = 216;

    public uint ChipId;
    private readonly uint _pad;
    public fixed byte Chip[ChipSize];
}

/// <summary>struct kvm_pit_channel_state: one 8254 counter.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmPitChannelState
{
    public uint Count;
    public ushort LatchedCount;
    public byte CountLatched, StatusLatched, Status, ReadState, WriteState, WriteLatch, RwMode, Mode, Bcd, Gate;
    /// <summary>Host monotonic nanoseconds; KVM_SET_PIT2 ignores it and reloads the counter from <see cref="Count"/> now.</summary>
    public long CountLoadTime;
}

/// <summary>struct kvm_pit_state2: the in-kernel 8254's three counters and flags (speaker data, HPET legacy).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmPitState2
{
    public KvmPitChannelState Channel0, Channel1, Channel2;
    public uint Flags;
    public fixed uint Reserved[9];
}

/// <summary>struct kvm_clock_data: the guest's kvmclock, nanoseconds.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmClockData
{
    public ulong Clock;
    public uint Flags;
    private readonly uint _pad0;
    public ulong Realtime, HostTsc;
    public fixed uint Pad[4];
}

/// <summary>struct kvm_dirty_log: a slot and the bitmap (one bit per page) KVM_GET_DIRTY_LOG fills and resets.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmDirtyLog
{
    public uint Slot;
    private readonly uint _padding1;
    public ulong DirtyBitmap;
}
