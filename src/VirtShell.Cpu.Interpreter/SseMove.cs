using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// SSE/SSE2 data movement: whole-register moves (aligned and unaligned), MOVD/MOVQ between XMM, general registers and
// memory, the scalar MOVSS/MOVSD, the half moves (MOVLPS/MOVHPS/MOVLPD/MOVHPD/MOVHLPS/MOVLHPS), non-temporal stores
// and the unpacks and shuffles of floating-point lanes.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] SseMoveOps() =>
    [
        ..Ops([Mnemonic.Movaps, Mnemonic.Movapd, Mnemonic.Movdqa, Mnemonic.Movntps, Mnemonic.Movntpd,
                Mnemonic.Movntdq], &MoveAligned, CpuModes.All),
        ..Ops([Mnemonic.Movups, Mnemonic.Movupd, Mnemonic.Movdqu], &MoveUnaligned, CpuModes.All),
        Op(Mnemonic.Movd, &MovdMovq, CpuModes.All), Op(Mnemonic.Movq, &MovdMovq, CpuModes.All),
        Op(Mnemonic.Movss, &MovScalar, CpuModes.All),
        // MOVSD and CMPSD are string instructions too: the SSE ones are told apart by encoding.
        OpCode(Code.Movsd_xmm_xmmm64, &MovScalar, CpuModes.All),
        OpCode(Code.Movsd_xmmm64_xmm, &MovScalar, CpuModes.All),
        ..Ops([Mnemonic.Movlps, Mnemonic.Movhps, Mnemonic.Movlpd, Mnemonic.Movhpd, Mnemonic.Movhlps,
                Mnemonic.Movlhps], &MoveHalf, CpuModes.All),
        Op(Mnemonic.Movnti, &Movnti, CpuModes.All),
        ..Ops([Mnemonic.Unpcklps, Mnemonic.Unpckhps, Mnemonic.Unpcklpd, Mnemonic.Unpckhpd, Mnemonic.Shufps,
                Mnemonic.Shufpd], &ShuffleFloat, CpuModes.All),
    ];

    private static void MoveAligned(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        c.SseWrite(ref d, c.SseRead(ref d, 1, 16), 16);
    }

    private static void MoveUnaligned(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        c.SseWrite(ref d, c.SseRead(ref d, 1, 16, aligned: false), 16, aligned: false);
    }

    /// <summary>
    /// MOVD (32 bits) and MOVQ (64 bits): into an XMM register the value is zero-extended to 128 bits; out of one, the
    /// low doubleword or quadword goes to a general register or memory. MMX forms stop as unimplemented (no MMX here).
    /// </summary>
    private static void MovdMovq(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        int size = d.I.Mnemonic == Mnemonic.Movd ? 4 : 8;
        UInt128 v = c.SseRead(ref d, 1, size);
        c.SseWrite(ref d, size == 4 ? (uint)v : (ulong)v, size);
    }

    /// <summary>MOVSS/MOVSD: between registers only the low lane changes; from memory the rest is zeroed; to memory the low lane.</summary>
    private static void MovScalar(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        int size = d.I.Mnemonic == Mnemonic.Movss ? 4 : 8;
        UInt128 mask = size == 4 ? uint.MaxValue : ulong.MaxValue;
        UInt128 v = c.SseRead(ref d, 1, size) & mask;
        if (d.I.Op0Kind == OpKind.Register && d.I.Op1Kind == OpKind.Register) v |= c._xmm[d.Reg0] & ~mask;
        c.SseWrite(ref d, v, size);
    }

    /// <summary>MOVLPS/MOVLPD/MOVHPS/MOVHPD (a quadword to or from one half), MOVHLPS and MOVLHPS (register halves).</summary>
    private static void MoveHalf(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        var m = d.I.Mnemonic;
        bool high = m is Mnemonic.Movhps or Mnemonic.Movhpd;
        if (d.I.Op0Kind == OpKind.Memory)
        {
            UInt128 src = c._xmm[d.Reg1];
            c.SseWrite(ref d, high ? (ulong)(src >> 64) : (ulong)src, 8);
            return;
        }
        UInt128 dst = c._xmm[d.Reg0];
        ulong q = m switch
        {
            Mnemonic.Movhlps => (ulong)(c._xmm[d.Reg1] >> 64),
            Mnemonic.Movlhps => (ulong)c._xmm[d.Reg1],
            _ => (ulong)c.SseRead(ref d, 1, 8),
        };
        c._xmm[d.Reg0] = high || m == Mnemonic.Movlhps ? (dst & ulong.MaxValue) | (UInt128)q << 64 : (dst & ~(UInt128)ulong.MaxValue) | q;
    }

    /// <summary>MOVNTI: a general register stored to memory (a non-temporal hint); an SSE2 instruction CR4.OSFXSR does not gate.</summary>
    private static void Movnti(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.SseCpuidFeatures == 0) throw new CpuFault(Vector.InvalidOpcode);
        int size = d.OpSize == 8 ? 8 : 4;
        c.WriteVector(c.FpuOperand(ref d, size, write: true), size, c._gpr[d.Reg1] & (size == 8 ? ulong.MaxValue : uint.MaxValue));
    }

    /// <summary>UNPCKLPS/UNPCKHPS/UNPCKLPD/UNPCKHPD and SHUFPS/SHUFPD: lanes of the two operands interleaved or picked.</summary>
    private static void ShuffleFloat(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        var a = c._xmm[d.Reg0];
        var b = c.SseRead(ref d, 1, 16);
        byte imm = (byte)d.Imm;
        c._xmm[d.Reg0] = d.I.Mnemonic switch
        {
            Mnemonic.Unpcklps => U(System.Runtime.Intrinsics.X86.Sse.UnpackLow(V<float>(a), V<float>(b))),
            Mnemonic.Unpckhps => U(System.Runtime.Intrinsics.X86.Sse.UnpackHigh(V<float>(a), V<float>(b))),
            Mnemonic.Unpcklpd => U(System.Runtime.Intrinsics.X86.Sse2.UnpackLow(V<double>(a), V<double>(b))),
            Mnemonic.Unpckhpd => U(System.Runtime.Intrinsics.X86.Sse2.UnpackHigh(V<double>(a), V<double>(b))),
            // SHUFPS: the low two lanes from the destination, the high two from the source, each picked by two bits.
            Mnemonic.Shufps => (UInt128)(uint)(a >> 32 * (imm & 3)) | (UInt128)(uint)(a >> 32 * ((imm >> 2) & 3)) << 32 |
                               (UInt128)(uint)(b >> 32 * ((imm >> 4) & 3)) << 64 | (UInt128)(uint)(b >> 32 * (imm >> 6)) << 96,
            _ => (UInt128)(ulong)(a >> 64 * (imm & 1)) | (UInt128)(ulong)(b >> 64 * ((imm >> 1) & 1)) << 64,
        };
    }
}
