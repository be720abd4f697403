using System.Runtime.InteropServices;
using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Native;

namespace VirtShell.Cpu.Kvm;

/// <summary>What a fresh vCPU gets before it first runs: the host's CPUID as KVM offers it (less CMPXCHG16B, which KVM's emulator cannot run), and the MSRs a kernel expects.</summary>
internal static unsafe class KvmCpuSetup
{
    /// <summary>
    /// CPUID.1:ECX bit 13, CMPXCHG16B. Where the host is itself a VM, ring-0 guest code runs through KVM's instruction
    /// emulator, which cannot do CMPXCHG16B: Linux's SLUB allocator met it in its first allocations and the guest
    /// stopped with an emulation failure. x86-64 does not require it; a guest told it is absent does without.
    /// (XSAVE, the other such instruction a Linux boot meets, is not in what KVM reports as supported on these hosts,
    /// so it cannot be hidden here; the Linux definitions pass <c>noxsave</c> instead.)
    /// </summary>
    private const uint Cx16 = 1u << 13;

    /// <summary>IA32_MISC_ENABLE bit 0: Linux checks it before using REP MOVS/STOS fast strings.</summary>
    private const ulong MiscEnableFastStrings = 1;

    public static void SetCpuid(FileDescriptor vcpu, int id, KvmCpuidEntry2[] supported)
    {
        var entries = (KvmCpuidEntry2[])supported.Clone();
        for (int i = 0; i < entries.Length; i++)
        {
            // Leaf 1 EBX[31:24] is the initial APIC ID, which must match the vCPU's local APIC.
            if (entries[i].Function != 1) continue;
            entries[i].Ebx = (entries[i].Ebx & 0x00FF_FFFF) | (uint)id << 24;
            entries[i].Ecx &= ~Cx16;
        }
        int bytes = 8 + entries.Length * sizeof(KvmCpuidEntry2);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            *(uint*)buffer = (uint)entries.Length;
            entries.AsSpan().CopyTo(new Span<KvmCpuidEntry2>(buffer + 8, entries.Length));
            KvmSystem.Check(Libc.ioctl(vcpu.Value, KvmApi.SetCpuid2, (nint)buffer), "KVM_SET_CPUID2");
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary>The syscall/sysenter MSRs zeroed, the TSC at zero, fast strings on; each only where this KVM has it.</summary>
    public static void SetMsrs(FileDescriptor vcpu, uint[] supportedIndices)
    {
        (uint Index, ulong Value)[] wanted =
        [
            (X86.MsrSysenterCs, 0), (X86.MsrSysenterEsp, 0), (X86.MsrSysenterEip, 0), (X86.MsrStar, 0), (X86.MsrLstar, 0), (X86.MsrCstar, 0),
            (X86.MsrSfmask, 0), (X86.MsrKernelGsBase, 0), (X86.MsrTsc, 0), (X86.MsrMiscEnable, MiscEnableFastStrings),
        ];
        var msrs = wanted.Where(m => supportedIndices.Contains(m.Index)).ToArray();
        int bytes = 8 + msrs.Length * sizeof(KvmMsrEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            *(uint*)buffer = (uint)msrs.Length;
            var entries = new Span<KvmMsrEntry>(buffer + 8, msrs.Length);
            for (int i = 0; i < msrs.Length; i++) entries[i] = new KvmMsrEntry { Index = msrs[i].Index, Data = msrs[i].Value };
            int set = KvmSystem.Check(Libc.ioctl(vcpu.Value, KvmApi.SetMsrs, (nint)buffer), "KVM_SET_MSRS");
            if (set != msrs.Length)
                throw new KvmException($"KVM_SET_MSRS refused MSR 0x{msrs[set].Index:x}");
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }
}
