using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtShell.Cpu.Kvm.Native;

namespace VirtShell.Tests.Kvm;

/// <summary>A fact that compiles C against the kernel headers; skipped where gcc or linux/kvm.h is missing.</summary>
public sealed class KernelHeadersFactAttribute : FactAttribute
{
    public const string Header = "/usr/include/linux/kvm.h";

    public static string? Gcc { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "gcc")).FirstOrDefault(File.Exists);

    public KernelHeadersFactAttribute()
    {
        if (Gcc == null) Skip = "gcc is not installed (apt-get install gcc)";
        else if (!File.Exists(Header)) Skip = $"{Header} is missing (apt-get install linux-libc-dev)";
    }
}

/// <summary>
/// Our copies of the kernel's KVM structures and ioctl numbers against the kernel's own headers: a C program compiled
/// here prints sizeof, offsetof and the ioctl values, and each must equal ours. Needs no /dev/kvm.
/// </summary>
public sealed class KvmAbiTests
{
    private static int Size<T>() where T : unmanaged => Unsafe.SizeOf<T>();
    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);

    /// <summary>Each C expression and the value our definitions give it.</summary>
    private static readonly (string C, long Ours)[] Facts =
    [
        ("sizeof(struct kvm_regs)", Size<KvmRegs>()),
        ("offsetof(struct kvm_regs, rip)", Offset<KvmRegs>(nameof(KvmRegs.Rip))),
        ("offsetof(struct kvm_regs, rflags)", Offset<KvmRegs>(nameof(KvmRegs.Rflags))),
        ("sizeof(struct kvm_segment)", Size<KvmSegment>()),
        ("offsetof(struct kvm_segment, unusable)", Offset<KvmSegment>(nameof(KvmSegment.Unusable))),
        ("sizeof(struct kvm_sregs)", Size<KvmSregs>()),
        ("offsetof(struct kvm_sregs, gdt)", Offset<KvmSregs>(nameof(KvmSregs.Gdt))),
        ("offsetof(struct kvm_sregs, cr8)", Offset<KvmSregs>(nameof(KvmSregs.Cr8))),
        ("offsetof(struct kvm_sregs, efer)", Offset<KvmSregs>(nameof(KvmSregs.Efer))),
        ("offsetof(struct kvm_sregs, apic_base)", Offset<KvmSregs>(nameof(KvmSregs.ApicBase))),
        ("offsetof(struct kvm_sregs, interrupt_bitmap)", Offset<KvmSregs>(nameof(KvmSregs.InterruptBitmap))),
        ("sizeof(struct kvm_msr_entry)", Size<KvmMsrEntry>()),
        ("offsetof(struct kvm_msr_entry, data)", Offset<KvmMsrEntry>(nameof(KvmMsrEntry.Data))),
        ("offsetof(struct kvm_msrs, entries)", Offset<KvmMsrs>(nameof(KvmMsrs.Entries))),
        ("sizeof(struct kvm_msrs) + 32 * sizeof(struct kvm_msr_entry)", Size<KvmMsrs>()),
        ("sizeof(struct kvm_xsave)", Size<KvmXsave>()),
        ("sizeof(struct kvm_xcr)", Size<KvmXcr>()),
        ("sizeof(struct kvm_xcrs)", Size<KvmXcrs>()),
        ("offsetof(struct kvm_xcrs, xcrs)", Offset<KvmXcrs>(nameof(KvmXcrs.Xcrs))),
        ("offsetof(struct kvm_xcrs, padding)", Offset<KvmXcrs>(nameof(KvmXcrs.Padding))),
        ("sizeof(struct kvm_lapic_state)", Size<KvmLapicState>()),
        ("sizeof(struct kvm_vcpu_events)", Size<KvmVcpuEvents>()),
        ("offsetof(struct kvm_vcpu_events, exception.error_code)", Offset<KvmVcpuEvents>(nameof(KvmVcpuEvents.ExceptionErrorCode))),
        ("offsetof(struct kvm_vcpu_events, interrupt.shadow)", Offset<KvmVcpuEvents>(nameof(KvmVcpuEvents.InterruptShadow))),
        ("offsetof(struct kvm_vcpu_events, nmi.masked)", Offset<KvmVcpuEvents>(nameof(KvmVcpuEvents.NmiMasked))),
        ("offsetof(struct kvm_vcpu_events, sipi_vector)", Offset<KvmVcpuEvents>(nameof(KvmVcpuEvents.SipiVector))),
        ("offsetof(struct kvm_vcpu_events, flags)", Offset<KvmVcpuEvents>(nameof(KvmVcpuEvents.Flags))),
        ("offsetof(struct kvm_vcpu_events, smi.latched_init)", Offset<KvmVcpuEvents>(nameof(KvmVcpuEvents.LatchedInit))),
        ("offsetof(struct kvm_vcpu_events, triple_fault.pending)", Offset<KvmVcpuEvents>(nameof(KvmVcpuEvents.TripleFaultPending))),
        ("offsetof(struct kvm_vcpu_events, exception_has_payload)", Offset<KvmVcpuEvents>(nameof(KvmVcpuEvents.ExceptionHasPayload))),
        ("offsetof(struct kvm_vcpu_events, exception_payload)", Offset<KvmVcpuEvents>(nameof(KvmVcpuEvents.ExceptionPayload))),
        ("sizeof(struct kvm_debugregs)", Size<KvmDebugregs>()),
        ("offsetof(struct kvm_debugregs, dr7)", Offset<KvmDebugregs>(nameof(KvmDebugregs.Dr7))),
        ("sizeof(struct kvm_mp_state)", Size<KvmMpState>()),
        ("sizeof(struct kvm_irqchip)", Size<KvmIrqchip>()),
        ("offsetof(struct kvm_irqchip, chip)", Offset<KvmIrqchip>(nameof(KvmIrqchip.Chip))),
        ("sizeof(struct kvm_pic_state)", KvmIrqchip.PicStateSize),
        ("sizeof(struct kvm_ioapic_state)", KvmIrqchip.IoapicStateSize),
        ("sizeof(struct kvm_pit_channel_state)", Size<KvmPitChannelState>()),
        ("offsetof(struct kvm_pit_channel_state, gate)", Offset<KvmPitChannelState>(nameof(KvmPitChannelState.Gate))),
        ("offsetof(struct kvm_pit_channel_state, count_load_time)", Offset<KvmPitChannelState>(nameof(KvmPitChannelState.CountLoadTime))),
        ("sizeof(struct kvm_pit_state2)", Size<KvmPitState2>()),
        ("offsetof(struct kvm_pit_state2, flags)", Offset<KvmPitState2>(nameof(KvmPitState2.Flags))),
        ("sizeof(struct kvm_clock_data)", Size<KvmClockData>()),
        ("offsetof(struct kvm_clock_data, flags)", Offset<KvmClockData>(nameof(KvmClockData.Flags))),
        ("offsetof(struct kvm_clock_data, host_tsc)", Offset<KvmClockData>(nameof(KvmClockData.HostTsc))),
        ("sizeof(struct kvm_dirty_log)", Size<KvmDirtyLog>()),
        ("offsetof(struct kvm_dirty_log, dirty_bitmap)", Offset<KvmDirtyLog>(nameof(KvmDirtyLog.DirtyBitmap))),
        ("sizeof(struct kvm_userspace_memory_region)", Size<KvmUserspaceMemoryRegion>()),
        ("offsetof(struct kvm_userspace_memory_region, flags)", Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.Flags))),
        ("offsetof(struct kvm_userspace_memory_region, userspace_addr)", Offset<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.UserspaceAddr))),
        ("KVM_MEM_LOG_DIRTY_PAGES", KvmApi.MemLogDirtyPages),
        ("KVM_IRQCHIP_PIC_MASTER", KvmApi.IrqchipPicMaster),
        ("KVM_IRQCHIP_PIC_SLAVE", KvmApi.IrqchipPicSlave),
        ("KVM_IRQCHIP_IOAPIC", KvmApi.IrqchipIoapic),
        ("KVM_MP_STATE_RUNNABLE", KvmApi.MpStateRunnable),
        ("KVM_MP_STATE_AP_RESET_HOLD", KvmApi.MpStateMax),
        ("KVM_VCPUEVENT_VALID_NMI_PENDING", KvmApi.VcpuEventValidNmiPending),
        ("KVM_VCPUEVENT_VALID_SHADOW", KvmApi.VcpuEventValidShadow),
        ("KVM_CAP_MP_STATE", (long)KvmApi.Capability.MpState),
        ("KVM_CAP_PIT_STATE2", (long)KvmApi.Capability.PitState2),
        ("KVM_CAP_ADJUST_CLOCK", (long)KvmApi.Capability.AdjustClock),
        ("KVM_CAP_VCPU_EVENTS", (long)KvmApi.Capability.VcpuEvents),
        ("KVM_CAP_DEBUGREGS", (long)KvmApi.Capability.Debugregs),
        ("KVM_CAP_XCRS", (long)KvmApi.Capability.Xcrs),
        ("KVM_GET_DIRTY_LOG", (long)KvmApi.GetDirtyLog),
        ("KVM_SET_USER_MEMORY_REGION", (long)KvmApi.SetUserMemoryRegion),
        ("KVM_GET_IRQCHIP", (long)KvmApi.GetIrqchip),
        ("KVM_SET_IRQCHIP", (long)KvmApi.SetIrqchip),
        ("KVM_SET_CLOCK", (long)KvmApi.SetClock),
        ("KVM_GET_CLOCK", (long)KvmApi.GetClock),
        ("KVM_GET_PIT2", (long)KvmApi.GetPit2),
        ("KVM_SET_PIT2", (long)KvmApi.SetPit2),
        ("KVM_GET_REGS", (long)KvmApi.GetRegs),
        ("KVM_SET_REGS", (long)KvmApi.SetRegs),
        ("KVM_GET_SREGS", (long)KvmApi.GetSregs),
        ("KVM_SET_SREGS", (long)KvmApi.SetSregs),
        ("KVM_GET_MSRS", (long)KvmApi.GetMsrs),
        ("KVM_SET_MSRS", (long)KvmApi.SetMsrs),
        ("KVM_GET_MSR_INDEX_LIST", (long)KvmApi.GetMsrIndexList),
        ("KVM_GET_XSAVE", (long)KvmApi.GetXsave),
        ("KVM_SET_XSAVE", (long)KvmApi.SetXsave),
        ("KVM_GET_XCRS", (long)KvmApi.GetXcrs),
        ("KVM_SET_XCRS", (long)KvmApi.SetXcrs),
        ("KVM_GET_LAPIC", (long)KvmApi.GetLapic),
        ("KVM_SET_LAPIC", (long)KvmApi.SetLapic),
        ("KVM_GET_VCPU_EVENTS", (long)KvmApi.GetVcpuEvents),
        ("KVM_SET_VCPU_EVENTS", (long)KvmApi.SetVcpuEvents),
        ("KVM_GET_DEBUGREGS", (long)KvmApi.GetDebugregs),
        ("KVM_SET_DEBUGREGS", (long)KvmApi.SetDebugregs),
        ("KVM_GET_MP_STATE", (long)KvmApi.GetMpState),
        ("KVM_SET_MP_STATE", (long)KvmApi.SetMpState),
        ("KVM_RUN", (long)KvmApi.Run),
        ("KVM_CREATE_VCPU", (long)KvmApi.CreateVcpu),
        ("KVM_CREATE_IRQCHIP", (long)KvmApi.CreateIrqchip),
        ("KVM_CREATE_PIT2", (long)KvmApi.CreatePit2),
        ("KVM_IRQ_LINE", (long)KvmApi.IrqLine),
        ("KVM_SET_CPUID2", (long)KvmApi.SetCpuid2),
        ("KVM_TRANSLATE", (long)KvmApi.Translate),
    ];

    [KernelHeadersFact]
    public void Structures_and_ioctl_numbers_match_the_kernel_headers()
    {
        var kernel = KernelValues(Facts.Select(f => f.C).ToList());
        var wrong = Facts.Zip(kernel).Where(p => p.First.Ours != p.Second)
            .Select(p => $"{p.First.C}: kernel 0x{p.Second:x}, ours 0x{p.First.Ours:x}").ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    /// <summary>Compiles and runs a C program printing each expression's value, one a line.</summary>
    private static List<long> KernelValues(IReadOnlyList<string> expressions)
    {
        var dir = Directory.CreateTempSubdirectory("virtshell-kvm-abi-");
        try
        {
            string source = Path.Combine(dir.FullName, "abi.c"), program = Path.Combine(dir.FullName, "abi");
            File.WriteAllText(source, "#include <stddef.h>\n#include <stdio.h>\n#include <linux/kvm.h>\nint main(void) {\n" +
                string.Concat(expressions.Select(e => $"  printf(\"%lld\\n\", (long long)({e}));\n")) + "  return 0;\n}\n");
            Run(KernelHeadersFactAttribute.Gcc!, ["-Wall", "-o", program, source]);
            return [.. Run(program, []).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => long.Parse(l, CultureInfo.InvariantCulture))];
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string Run(string file, string[] arguments)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var errors = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{Path.GetFileName(file)} failed: {errors.Result}");
        return output;
    }
}
