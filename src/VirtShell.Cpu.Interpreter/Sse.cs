using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// The SSE/SSE2 register file (XMM0-15, MXCSR), the checks every SSE instruction makes and its operand access. The
// instructions are in SseMove.cs, SseInteger.cs and SseFloat.cs; integer and logical operations run the host's own
// SSE2 instruction on the guest's values, which is exactly the guest's semantics.
public sealed unsafe partial class InterpreterCpu
{
    /// <summary>MXCSR at reset: every exception masked, round to nearest, no FTZ/DAZ.</summary>
    private const uint MxcsrDefault = 0x1F80;
    /// <summary>MXCSR_MASK as FXSAVE reports it: the bits LDMXCSR may set (DAZ included).</summary>
    private const uint MxcsrMask = 0xFFFF;

    private readonly UInt128[] _xmm = new UInt128[16];
    private uint _mxcsr = MxcsrDefault;

    /// <summary>CPUID.1:EDX SSE (bit 25) and SSE2 (bit 26): with the FPU, on a host that runs SSE2 itself.</summary>
    private uint SseCpuidFeatures => _fpuPresent && System.Runtime.Intrinsics.X86.Sse2.IsSupported ? 0x0600_0000u : 0;

    /// <summary>
    /// What every SSE instruction checks first: #UD without CR4.OSFXSR, with CR0.EM, or on a CPU without SSE; #NM with
    /// CR0.TS (the lazy FPU switch covers the XMM registers too).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SseCheck()
    {
        if ((_cr4 & Cr4Osfxsr) == 0 || (_cr0 & Cr0Em) != 0 || SseCpuidFeatures == 0) throw new CpuFault(Vector.InvalidOpcode);
        if ((_cr0 & Cr0Ts) != 0) throw new CpuFault(Vector.DeviceNotAvailable);
    }

    private static bool IsXmm(Iced.Intel.Register r) => r is >= Iced.Intel.Register.XMM0 and <= Iced.Intel.Register.XMM15;

    /// <summary>
    /// The linear address of an SSE memory operand, both ends translated up front; a 16-byte operand of an instruction
    /// that requires alignment (all legacy-encoded ones but the unaligned moves) is #GP(0) unless 16-byte aligned.
    /// </summary>
    private ulong SseAddress(ref DecodedOp d, int size, bool write, bool aligned)
    {
        ulong linear = FpuOperand(ref d, size, write);
        if (aligned && size == 16 && (linear & 15) != 0) throw new CpuFault(Vector.GeneralProtection, 0);
        return linear;
    }

    private UInt128 ReadVector(ulong at, int size) => size switch
    {
        4 => ReadLinear(at, 4),
        8 => ReadLinear64(at),
        _ => ReadLinear64(at) | (UInt128)ReadLinear64(at + 8) << 64,
    };

    private void WriteVector(ulong at, int size, UInt128 v)
    {
        switch (size)
        {
            case 4: WriteLinear(at, 4, (uint)v); break;
            case 8: WriteLinear64(at, (ulong)v); break;
            default:
                WriteLinear64(at, (ulong)v);
                WriteLinear64(at + 8, (ulong)(v >> 64));
                break;
        }
    }

    /// <summary>
    /// Operand <paramref name="n"/>: an XMM register (all 128 bits), a general register (zero-extended), or
    /// <paramref name="size"/> bytes of memory (zero-extended).
    /// </summary>
    private UInt128 SseRead(ref DecodedOp d, int n, int size, bool aligned = true)
    {
        if (d.I.GetOpKind(n) == OpKind.Register)
        {
            var r = d.I.GetOpRegister(n);
            if (IsXmm(r)) return _xmm[n == 0 ? d.Reg0 : d.Reg1];
            ulong g = _gpr[RegNumbers[(int)r]];
            return r.GetSize() == 8 ? g : (uint)g;
        }
        return ReadVector(SseAddress(ref d, size, write: false, aligned), size);
    }

    /// <summary>Operand 0: a whole XMM register, a general register (32-bit writes zero-extend), or <paramref name="size"/> bytes of memory.</summary>
    private void SseWrite(ref DecodedOp d, UInt128 v, int size, bool aligned = true)
    {
        if (d.I.Op0Kind == OpKind.Register)
        {
            var r = d.I.Op0Register;
            if (IsXmm(r)) _xmm[d.Reg0] = v;
            else _gpr[RegNumbers[(int)r]] = r.GetSize() == 8 ? (ulong)v : (uint)v;
            return;
        }
        WriteVector(SseAddress(ref d, size, write: true, aligned), size, v);
    }

    private static Vector128<T> V<T>(UInt128 v) where T : struct => Unsafe.As<UInt128, Vector128<T>>(ref v);
    private static UInt128 U<T>(Vector128<T> v) where T : struct => Unsafe.As<Vector128<T>, UInt128>(ref v);

    /// <summary>LDMXCSR: #GP(0) for reserved bits.</summary>
    private static void Ldmxcsr(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        uint v = (uint)c.SseRead(ref d, 0, 4);
        if ((v & ~MxcsrMask) != 0) throw new CpuFault(Vector.GeneralProtection, 0);
        c._mxcsr = v;
    }

    private static void Stmxcsr(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        c.SseWrite(ref d, c._mxcsr, 4);
    }

    /// <summary>MFENCE/LFENCE/SFENCE and the PREFETCH hints: nothing to order or fetch on one in-order interpreter.</summary>
    private static void SseHint(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.SseCpuidFeatures == 0) throw new CpuFault(Vector.InvalidOpcode);
        if (d.I.Op0Kind == OpKind.Memory && c._mode64) c.Linear64(ref d, 1); // a non-canonical address still faults
    }

    /// <summary>An SSE handler serves every mode: its operands go through SseRead/SseWrite, which address 64-bit memory too.</summary>
    private static OpcodeRow[] SseOps() =>
    [
        Op(Mnemonic.Ldmxcsr, &Ldmxcsr, CpuModes.All), Op(Mnemonic.Stmxcsr, &Stmxcsr, CpuModes.All),
        ..Ops([Mnemonic.Mfence, Mnemonic.Lfence, Mnemonic.Sfence, Mnemonic.Prefetcht0, Mnemonic.Prefetcht1,
                Mnemonic.Prefetcht2, Mnemonic.Prefetchnta], &SseHint, CpuModes.All),
    ];
}
