using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// CPUID: the identity of a Pentium Pro-class part (GenuineIntel, family 6) whose feature bits say exactly what this
// interpreter implements, so a kernel that trusts them never reaches an unimplemented path.
public sealed unsafe partial class InterpreterCpu
{
    private const uint CpuidMaxBasicLeaf = 7, CpuidMaxExtendedLeaf = 0x8000_0008;

    /// <summary>Family 6, model 1, stepping 9: a Pentium Pro late enough that Linux trusts its SEP bit.</summary>
    public const uint CpuidSignature = 0x0000_0619;

    private const uint FeaturePse = 1 << 3, FeatureTsc = 1 << 4, FeatureMsr = 1 << 5, FeatureCx8 = 1 << 8,
        FeatureApic = 1 << 9, FeatureSep = 1 << 11, FeaturePge = 1 << 13, FeatureCmov = 1 << 15;

    /// <summary>
    /// CPUID.1:EDX without the x87 bits (FPU, FXSR: <see cref="X87CpuidFeatures"/>, which a CPU without FPU leaves out).
    /// SSE and SSE2 come from <see cref="SseCpuidFeatures"/>. APIC is added while the CPU has a local APIC that
    /// IA32_APIC_BASE has not disabled (<see cref="ApicCpuidFeature"/>). Absent on purpose: VME, DE and debug registers,
    /// PAE, MCE/MCA, MTRR, PAT, MMX, CLFLUSH.
    /// </summary>
    private const uint CpuidFeatures = FeaturePse | FeatureTsc | FeatureMsr | FeatureCx8 | FeatureSep | FeaturePge | FeatureCmov;

    /// <summary>CPUID.1:EDX.APIC follows IA32_APIC_BASE's enable bit, as on Intel parts.</summary>
    private uint ApicCpuidFeature => _apic is { Enabled: true } ? FeatureApic : 0;

    /// <summary>
    /// CPUID.80000001h: LAHF/SAHF in 64-bit mode (ECX bit 0); SYSCALL/SYSRET in 64-bit mode, execute-disable, RDTSCP
    /// and long mode (EDX bits 11, 20, 27, 29).
    /// </summary>
    private const uint ExtendedFeaturesEcx = 1, ExtendedFeaturesEdx = 1 << 11 | 1 << 20 | 1 << 27 | 1 << 29;

    /// <summary>CPUID.7.0: SMAP (EBX bit 20) and RDPID (ECX bit 22); SMEP, FSGSBASE, UMIP and the rest are not implemented.</summary>
    private const uint StructuredFeaturesEbx = 1 << 20, StructuredFeaturesEcx = 1 << 22;

    /// <summary>CPUID.80000008h:EAX: 32 physical address bits (the 4-level walk stops at 4 GiB), 48 linear.</summary>
    private const uint AddressSizes = 32 | 48 << 8;

    private static OpcodeRow[] IdentityOps() => [Op(Mnemonic.Cpuid, &Cpuid, CpuModes.LegacyAndLong)];

    private static void Cpuid(InterpreterCpu c, ref DecodedOp d)
    {
        uint leaf = (uint)c._gpr[RegEax];
        // Intel answers a leaf beyond either maximum with the highest basic leaf.
        if (leaf > CpuidMaxExtendedLeaf || (leaf > CpuidMaxBasicLeaf && leaf < 0x8000_0000)) leaf = CpuidMaxBasicLeaf;
        switch (leaf)
        {
            case 0:
                c._gpr[RegEax] = CpuidMaxBasicLeaf;
                c._gpr[RegEbx] = 0x756E_6547; // "Genu"
                c._gpr[RegEdx] = 0x4965_6E69; // "ineI"
                c._gpr[RegEcx] = 0x6C65_746E; // "ntel"
                break;
            case 1:
                c._gpr[RegEax] = CpuidSignature;
                c._gpr[RegEbx] = 0; // no brand index, no CLFLUSH, one logical processor, APIC ID 0
                c._gpr[RegEcx] = 0;
                c._gpr[RegEdx] = CpuidFeatures | c.X87CpuidFeatures | c.SseCpuidFeatures | c.ApicCpuidFeature;
                break;
            case 7:
                // Subleaf 0 is the only one; leaves 2-6 (cache and power descriptors) read as zeros below.
                bool subleaf0 = (uint)c._gpr[RegEcx] == 0;
                c._gpr[RegEax] = c._gpr[RegEdx] = 0;
                c._gpr[RegEbx] = subleaf0 ? StructuredFeaturesEbx : 0;
                c._gpr[RegEcx] = subleaf0 ? StructuredFeaturesEcx : 0;
                break;
            case 0x8000_0000:
                c._gpr[RegEax] = CpuidMaxExtendedLeaf;
                c._gpr[RegEbx] = c._gpr[RegEcx] = c._gpr[RegEdx] = 0;
                break;
            case 0x8000_0001:
                c._gpr[RegEax] = c._gpr[RegEbx] = 0;
                c._gpr[RegEcx] = ExtendedFeaturesEcx;
                c._gpr[RegEdx] = ExtendedFeaturesEdx;
                break;
            case 0x8000_0008:
                c._gpr[RegEax] = AddressSizes;
                c._gpr[RegEbx] = c._gpr[RegEcx] = c._gpr[RegEdx] = 0;
                break;
            default: // 2-6 and 80000002h-80000007h: no cache, power-management or brand-string leaves
                c._gpr[RegEax] = c._gpr[RegEbx] = c._gpr[RegEcx] = c._gpr[RegEdx] = 0;
                break;
        }
    }
}
