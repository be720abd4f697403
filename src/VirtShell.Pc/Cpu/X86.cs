using VirtShell.Engine.Cpu;
namespace VirtShell.Pc;

/// <summary>
/// The x86 architecture's register bits and MSR indices (Intel SDM volume 3), named once for the interpreter, the
/// KVM backend and the boot loaders.
/// </summary>
public static class X86
{
    /// <summary>EFLAGS; the upper half of RFLAGS is reserved (zero). <see cref="FlagFixed"/> (bit 1) always reads 1.</summary>
    public const uint FlagCf = 1, FlagFixed = 2, FlagPf = 4, FlagAf = 0x10, FlagZf = 0x40, FlagSf = 0x80, FlagTf = 0x100,
        FlagIf = 0x200, FlagDf = 0x400, FlagOf = 0x800, FlagIopl = 0x3000, FlagNt = 0x4000, FlagRf = 0x10000, FlagVm = 0x20000,
        FlagAc = 0x40000, FlagId = 0x200000;

    /// <summary>CR0: protection, FPU monitoring/emulation, task switched, extension type, native FPU errors, paging.</summary>
    public const uint Cr0Pe = 1, Cr0Mp = 2, Cr0Em = 4, Cr0Ts = 8, Cr0Et = 0x10, Cr0Ne = 0x20, Cr0Pg = 0x8000_0000;

    /// <summary>CR4: debugging extensions, 4 MiB pages, PAE, global pages, FXSR/SSE enables, SMAP.</summary>
    public const uint Cr4De = 0x8, Cr4Pse = 0x10, Cr4Pae = 0x20, Cr4Pge = 0x80, Cr4Osfxsr = 0x200, Cr4Osxmmexcpt = 0x400,
        Cr4Smap = 0x20_0000;

    /// <summary>IA32_EFER: SYSCALL enable, long mode enable and active, no-execute enable.</summary>
    public const ulong EferSce = 1, EferLme = 0x100, EferLma = 0x400, EferNxe = 0x800;

    /// <summary>MSR indices, as RDMSR/WRMSR take them in ECX.</summary>
    public const uint MsrTsc = 0x10, MsrPlatformId = 0x17, MsrApicBase = 0x1B, MsrBiosSignId = 0x8B,
        MsrSysenterCs = 0x174, MsrSysenterEsp = 0x175, MsrSysenterEip = 0x176, MsrMiscEnable = 0x1A0,
        MsrEfer = 0xC000_0080, MsrStar = 0xC000_0081, MsrLstar = 0xC000_0082, MsrCstar = 0xC000_0083, MsrSfmask = 0xC000_0084,
        MsrFsBase = 0xC000_0100, MsrGsBase = 0xC000_0101, MsrKernelGsBase = 0xC000_0102, MsrTscAux = 0xC000_0103;
}
