using VirtShell.Cpu.Kvm.Native;

namespace VirtShell.Cpu.Kvm.NestedHost;

/// <summary>
/// What <see cref="NestedHostWorkarounds"/> may do to the vCPU whose exit it completes: read and write its registers,
/// read its x87 status and MSRs, and walk its page tables. <see cref="KvmCpu"/> answers with ioctls; a test answers
/// from fields.
/// </summary>
internal interface IVcpuAccess
{
    KvmRegs GetRegs();
    void SetRegs(KvmRegs regs);
    KvmSregs GetSregs();
    void SetSregs(KvmSregs sregs);
    /// <summary>The x87 status word (FSW).</summary>
    ushort GetFpuStatus();
    ulong ReadMsr(uint index);
    /// <summary>A linear address through the guest's current page tables, or null where nothing is mapped.</summary>
    ulong? Translate(ulong linear);
}
