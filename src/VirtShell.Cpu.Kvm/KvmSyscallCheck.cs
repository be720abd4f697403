using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;

namespace VirtShell.Cpu.Kvm;

/// <summary>
/// Finds out, once per process, whether this host's KVM carries out a SYSCALL from ring 3 (see <see cref="NestedHost.NestedHostWorkarounds"/>).
/// A guest of two instructions starts in 64-bit ring 3 and executes SYSCALL; the entry point is on a supervisor-only
/// page and writes to a port. A sound KVM gets there in ring 0 and the port write exits. A KVM that leaves the CPU in
/// ring 3 faults on fetching the entry, and with no IDT the guest shuts down.
/// </summary>
internal static class KvmSyscallCheck
{
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, Pt = 0x4000, UserCode = 0x5000, Entry = 0x6000;
    private const ushort ReportPort = 0x80;
    private const ushort KernelCs = 0x10, User32Cs = 0x23, UserCs = 0x33, UserDs = 0x2B;
    private const ulong Present = 1, Writable = 2, User = 4;

    private static readonly Lazy<bool> s_leftInUserMode = new(RunOrAssumeSound);

    public static bool SyscallLeftInUserMode => s_leftInUserMode.Value;

    /// <summary>A KVM that cannot even run the check is taken at its word: nothing is patched in its guests.</summary>
    private static bool RunOrAssumeSound()
    {
        try
        {
            return Run();
        }
        catch (KvmException)
        {
            return false;
        }
    }

    private static bool Run()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x10_0000);
        memory.Write(Pml4, BitConverter.GetBytes(Pdpt | Present | Writable | User));
        memory.Write(Pdpt, BitConverter.GetBytes(Pd | Present | Writable | User));
        memory.Write(Pd, BitConverter.GetBytes(Pt | Present | Writable | User));
        memory.Write(Pt + (UserCode >> 12) * 8, BitConverter.GetBytes(UserCode | Present | User));
        memory.Write(Pt + (Entry >> 12) * 8, BitConverter.GetBytes(Entry | Present));
        memory.Write(UserCode, [0x0F, 0x05, 0xEB, 0xFE]);  // syscall; jmp $
        memory.Write(Entry, [0xE6, (byte)ReportPort, 0xEB, 0xFE]); // out 0x80, al; jmp $

        var ports = new IoPortBus();
        using var vm = new KvmVirtualMachine(memory, repairsSyscalls: false);
        var cpu = vm.CreateCpu(ports, new MmioBus());
        var report = new ReportDevice(cpu);
        ports.Register(ReportPort, 1, report, "SYSCALL check");
        cpu.SetState(new CpuState
        {
            Rip = UserCode,
            Rflags = 0x2,
            Cs = new SegmentState { Selector = UserCs, Limit = 0xFFFF_FFFF, Attributes = 0xA0FB }, // 64-bit code, DPL 3
            Ss = new SegmentState { Selector = UserDs, Limit = 0xFFFF_FFFF, Attributes = 0xC0F3 },
            Ds = new SegmentState { Selector = UserDs, Limit = 0xFFFF_FFFF, Attributes = 0xC0F3 },
            Es = new SegmentState { Selector = UserDs, Limit = 0xFFFF_FFFF, Attributes = 0xC0F3 },
            Tr = new SegmentState { Limit = 0x67, Attributes = 0x8B },
            Ldtr = new SegmentState { Attributes = 0x82 },
            Cr0 = X86.Cr0Pg | X86.Cr0Ne | X86.Cr0Et | X86.Cr0Pe,
            Cr3 = Pml4,
            Cr4 = X86.Cr4Pae,
            Efer = X86.EferLma | X86.EferLme | X86.EferSce,
        });
        cpu.WriteMsr(X86.MsrStar, (ulong)User32Cs << 48 | (ulong)KernelCs << 32);
        cpu.WriteMsr(X86.MsrLstar, Entry);

        // A KVM that neither arrives nor faults would hang this; a second is far more than two instructions need.
        using var timeout = new Timer(_ => cpu.RequestExit(), null, 1000, Timeout.Infinite);
        var exit = cpu.Run();
        return exit.Reason == CpuExitReason.TripleFault || report.Cpl == 3;
    }

    private sealed class ReportDevice(KvmCpu cpu) : IPortDevice
    {
        public int? Cpl { get; private set; }

        public uint ReadPort(ushort port, int size) => 0;

        public void WritePort(ushort port, int size, uint value)
        {
            Cpl = cpu.GetState().Cs.Selector & 3;
            cpu.RequestExit();
        }
    }
}
