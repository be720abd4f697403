using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// SSE2 integer and bitwise operations on XMM registers: logic (also the PS/PD forms, which are the same bits), add and
// subtract with wrap-around or saturation, compares, min/max, multiplies, shifts, shuffles, unpacks, packs and the
// byte mask. Each runs the host's SSE2 instruction of the same name, so results match the guest's CPU bit for bit.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] SseIntegerOps() =>
    [
        ..Ops([Mnemonic.Pxor, Mnemonic.Por, Mnemonic.Pand, Mnemonic.Pandn, Mnemonic.Xorps, Mnemonic.Xorpd,
                Mnemonic.Orps, Mnemonic.Orpd, Mnemonic.Andps, Mnemonic.Andpd, Mnemonic.Andnps, Mnemonic.Andnpd,
                Mnemonic.Paddb, Mnemonic.Paddw, Mnemonic.Paddd, Mnemonic.Paddq, Mnemonic.Psubb, Mnemonic.Psubw,
                Mnemonic.Psubd, Mnemonic.Psubq, Mnemonic.Paddusb, Mnemonic.Paddusw, Mnemonic.Paddsb, Mnemonic.Paddsw,
                Mnemonic.Psubusb, Mnemonic.Psubusw, Mnemonic.Psubsb, Mnemonic.Psubsw, Mnemonic.Pcmpeqb,
                Mnemonic.Pcmpeqw, Mnemonic.Pcmpeqd, Mnemonic.Pcmpgtb, Mnemonic.Pcmpgtw, Mnemonic.Pcmpgtd,
                Mnemonic.Pminub, Mnemonic.Pmaxub, Mnemonic.Pminsw, Mnemonic.Pmaxsw, Mnemonic.Pavgb, Mnemonic.Pavgw,
                Mnemonic.Pmullw, Mnemonic.Pmulhw, Mnemonic.Pmulhuw, Mnemonic.Pmuludq, Mnemonic.Pmaddwd,
                Mnemonic.Psadbw, Mnemonic.Punpcklbw, Mnemonic.Punpcklwd, Mnemonic.Punpckldq, Mnemonic.Punpcklqdq,
                Mnemonic.Punpckhbw, Mnemonic.Punpckhwd, Mnemonic.Punpckhdq, Mnemonic.Punpckhqdq, Mnemonic.Packsswb,
                Mnemonic.Packssdw, Mnemonic.Packuswb], &PackedInteger, CpuModes.All),
        ..Ops([Mnemonic.Psllw, Mnemonic.Pslld, Mnemonic.Psllq, Mnemonic.Psrlw, Mnemonic.Psrld, Mnemonic.Psrlq,
                Mnemonic.Psraw, Mnemonic.Psrad, Mnemonic.Pslldq, Mnemonic.Psrldq], &PackedShift, CpuModes.All),
        ..Ops([Mnemonic.Pshufd, Mnemonic.Pshuflw, Mnemonic.Pshufhw], &PackedShuffle, CpuModes.All),
        ..Ops([Mnemonic.Pmovmskb, Mnemonic.Movmskps, Mnemonic.Movmskpd], &MoveMask, CpuModes.All),
    ];

    /// <summary>The two-operand integer and bitwise operations: XMM op= XMM/m128. MMX forms stop as unimplemented.</summary>
    private static void PackedInteger(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        UInt128 a = c._xmm[d.Reg0], b = c.SseRead(ref d, 1, 16);
        c._xmm[d.Reg0] = d.I.Mnemonic switch
        {
            Mnemonic.Pxor or Mnemonic.Xorps or Mnemonic.Xorpd => a ^ b,
            Mnemonic.Por or Mnemonic.Orps or Mnemonic.Orpd => a | b,
            Mnemonic.Pand or Mnemonic.Andps or Mnemonic.Andpd => a & b,
            Mnemonic.Pandn or Mnemonic.Andnps or Mnemonic.Andnpd => ~a & b,
            Mnemonic.Paddb => U(Sse2.Add(V<byte>(a), V<byte>(b))),
            Mnemonic.Paddw => U(Sse2.Add(V<ushort>(a), V<ushort>(b))),
            Mnemonic.Paddd => U(Sse2.Add(V<uint>(a), V<uint>(b))),
            Mnemonic.Paddq => U(Sse2.Add(V<ulong>(a), V<ulong>(b))),
            Mnemonic.Psubb => U(Sse2.Subtract(V<byte>(a), V<byte>(b))),
            Mnemonic.Psubw => U(Sse2.Subtract(V<ushort>(a), V<ushort>(b))),
            Mnemonic.Psubd => U(Sse2.Subtract(V<uint>(a), V<uint>(b))),
            Mnemonic.Psubq => U(Sse2.Subtract(V<ulong>(a), V<ulong>(b))),
            Mnemonic.Paddusb => U(Sse2.AddSaturate(V<byte>(a), V<byte>(b))),
            Mnemonic.Paddusw => U(Sse2.AddSaturate(V<ushort>(a), V<ushort>(b))),
            Mnemonic.Paddsb => U(Sse2.AddSaturate(V<sbyte>(a), V<sbyte>(b))),
            Mnemonic.Paddsw => U(Sse2.AddSaturate(V<short>(a), V<short>(b))),
            Mnemonic.Psubusb => U(Sse2.SubtractSaturate(V<byte>(a), V<byte>(b))),
            Mnemonic.Psubusw => U(Sse2.SubtractSaturate(V<ushort>(a), V<ushort>(b))),
            Mnemonic.Psubsb => U(Sse2.SubtractSaturate(V<sbyte>(a), V<sbyte>(b))),
            Mnemonic.Psubsw => U(Sse2.SubtractSaturate(V<short>(a), V<short>(b))),
            Mnemonic.Pcmpeqb => U(Sse2.CompareEqual(V<byte>(a), V<byte>(b))),
            Mnemonic.Pcmpeqw => U(Sse2.CompareEqual(V<ushort>(a), V<ushort>(b))),
            Mnemonic.Pcmpeqd => U(Sse2.CompareEqual(V<uint>(a), V<uint>(b))),
            Mnemonic.Pcmpgtb => U(Sse2.CompareGreaterThan(V<sbyte>(a), V<sbyte>(b))),
            Mnemonic.Pcmpgtw => U(Sse2.CompareGreaterThan(V<short>(a), V<short>(b))),
            Mnemonic.Pcmpgtd => U(Sse2.CompareGreaterThan(V<int>(a), V<int>(b))),
            Mnemonic.Pminub => U(Sse2.Min(V<byte>(a), V<byte>(b))),
            Mnemonic.Pmaxub => U(Sse2.Max(V<byte>(a), V<byte>(b))),
            Mnemonic.Pminsw => U(Sse2.Min(V<short>(a), V<short>(b))),
            Mnemonic.Pmaxsw => U(Sse2.Max(V<short>(a), V<short>(b))),
            Mnemonic.Pavgb => U(Sse2.Average(V<byte>(a), V<byte>(b))),
            Mnemonic.Pavgw => U(Sse2.Average(V<ushort>(a), V<ushort>(b))),
            Mnemonic.Pmullw => U(Sse2.MultiplyLow(V<short>(a), V<short>(b))),
            Mnemonic.Pmulhw => U(Sse2.MultiplyHigh(V<short>(a), V<short>(b))),
            Mnemonic.Pmulhuw => U(Sse2.MultiplyHigh(V<ushort>(a), V<ushort>(b))),
            Mnemonic.Pmuludq => U(Sse2.Multiply(V<uint>(a), V<uint>(b))),
            Mnemonic.Pmaddwd => U(Sse2.MultiplyAddAdjacent(V<short>(a), V<short>(b))),
            Mnemonic.Psadbw => U(Sse2.SumAbsoluteDifferences(V<byte>(a), V<byte>(b))),
            Mnemonic.Punpcklbw => U(Sse2.UnpackLow(V<byte>(a), V<byte>(b))),
            Mnemonic.Punpcklwd => U(Sse2.UnpackLow(V<ushort>(a), V<ushort>(b))),
            Mnemonic.Punpckldq => U(Sse2.UnpackLow(V<uint>(a), V<uint>(b))),
            Mnemonic.Punpcklqdq => U(Sse2.UnpackLow(V<ulong>(a), V<ulong>(b))),
            Mnemonic.Punpckhbw => U(Sse2.UnpackHigh(V<byte>(a), V<byte>(b))),
            Mnemonic.Punpckhwd => U(Sse2.UnpackHigh(V<ushort>(a), V<ushort>(b))),
            Mnemonic.Punpckhdq => U(Sse2.UnpackHigh(V<uint>(a), V<uint>(b))),
            Mnemonic.Punpckhqdq => U(Sse2.UnpackHigh(V<ulong>(a), V<ulong>(b))),
            Mnemonic.Packsswb => U(Sse2.PackSignedSaturate(V<short>(a), V<short>(b))),
            Mnemonic.Packssdw => U(Sse2.PackSignedSaturate(V<int>(a), V<int>(b))),
            _ => U(Sse2.PackUnsignedSaturate(V<short>(a), V<short>(b))), // PACKUSWB
        };
    }

    /// <summary>
    /// PSLL/PSRL/PSRA by an immediate or by the low quadword of XMM/m128 (counts past the lane width clear the lane, or
    /// fill it with the sign), and the whole-register byte shifts PSLLDQ/PSRLDQ.
    /// </summary>
    private static void PackedShift(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        UInt128 a = c._xmm[d.Reg0];
        bool immediate = d.I.Op1Kind == OpKind.Immediate8;
        ulong count = immediate ? d.Imm & 0xFF : (ulong)c.SseRead(ref d, 1, 16);
        var n = Vector128.CreateScalar(count);
        c._xmm[d.Reg0] = d.I.Mnemonic switch
        {
            Mnemonic.Psllw => U(Sse2.ShiftLeftLogical(V<ushort>(a), n.AsUInt16())),
            Mnemonic.Pslld => U(Sse2.ShiftLeftLogical(V<uint>(a), n.AsUInt32())),
            Mnemonic.Psllq => U(Sse2.ShiftLeftLogical(V<ulong>(a), n)),
            Mnemonic.Psrlw => U(Sse2.ShiftRightLogical(V<ushort>(a), n.AsUInt16())),
            Mnemonic.Psrld => U(Sse2.ShiftRightLogical(V<uint>(a), n.AsUInt32())),
            Mnemonic.Psrlq => U(Sse2.ShiftRightLogical(V<ulong>(a), n)),
            Mnemonic.Psraw => U(Sse2.ShiftRightArithmetic(V<short>(a), n.AsInt16())),
            Mnemonic.Psrad => U(Sse2.ShiftRightArithmetic(V<int>(a), n.AsInt32())),
            Mnemonic.Pslldq => count > 15 ? 0 : a << (int)(8 * count),
            _ => count > 15 ? 0 : a >> (int)(8 * count), // PSRLDQ
        };
    }

    /// <summary>PSHUFD (doublewords), PSHUFLW and PSHUFHW (words of one half) by the immediate's 2-bit selectors.</summary>
    private static void PackedShuffle(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        UInt128 src = c.SseRead(ref d, 1, 16);
        uint imm = d.Imm & 0xFF;
        UInt128 r = 0;
        if (d.I.Mnemonic == Mnemonic.Pshufd)
        {
            for (int i = 0; i < 4; i++) r |= (UInt128)(uint)(src >> (int)(32 * ((imm >> (2 * i)) & 3))) << (32 * i);
        }
        else
        {
            int half = d.I.Mnemonic == Mnemonic.Pshufhw ? 64 : 0;
            ulong words = (ulong)(src >> half);
            ulong shuffled = 0;
            for (int i = 0; i < 4; i++) shuffled |= ((words >> (int)(16 * ((imm >> (2 * i)) & 3))) & 0xFFFF) << (16 * i);
            UInt128 keep = (UInt128)ulong.MaxValue << (64 - half);
            r = (src & keep) | (UInt128)shuffled << half;
        }
        c._xmm[d.Reg0] = r;
    }

    /// <summary>PMOVMSKB (the top bit of each byte), MOVMSKPS and MOVMSKPD (of each lane) into a general register.</summary>
    private static void MoveMask(InterpreterCpu c, ref DecodedOp d)
    {
        c.SseCheck();
        UInt128 v = c._xmm[d.Reg1];
        uint mask = d.I.Mnemonic switch
        {
            Mnemonic.Pmovmskb => V<byte>(v).ExtractMostSignificantBits(),
            Mnemonic.Movmskps => V<uint>(v).ExtractMostSignificantBits(),
            _ => V<ulong>(v).ExtractMostSignificantBits(),
        };
        c._gpr[d.Reg0] = mask;
    }
}
