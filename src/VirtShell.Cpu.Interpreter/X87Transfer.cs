using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// x87 data transfer: FLD FILD FST FSTP FIST FISTP FISTTP, the constants FLD1 FLDZ FLDPI FLDL2E FLDL2T FLDLG2 FLDLN2,
// and FCMOVcc. Loads and stores of the 80-bit format and of integers are exact; stores to 32/64-bit reals and to
// integers round under the control word's rounding control.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] X87TransferOps() =>
    [
        Op(Mnemonic.Fld, &Fld, CpuModes.All), Op(Mnemonic.Fild, &Fld, CpuModes.All),
        Op(Mnemonic.Fst, &Fst, CpuModes.All), Op(Mnemonic.Fstp, &Fstp, CpuModes.All),
        Op(Mnemonic.Fstpnce, &Fstp, CpuModes.All), Op(Mnemonic.Fist, &Fist, CpuModes.All),
        Op(Mnemonic.Fistp, &Fistp, CpuModes.All), Op(Mnemonic.Fisttp, &Fisttp, CpuModes.All),
        Op(Mnemonic.Fld1, &Fld1, CpuModes.All), Op(Mnemonic.Fldz, &Fldz, CpuModes.All),
        Op(Mnemonic.Fldpi, &Fldpi, CpuModes.All), Op(Mnemonic.Fldl2e, &Fldl2e, CpuModes.All),
        Op(Mnemonic.Fldl2t, &Fldl2t, CpuModes.All), Op(Mnemonic.Fldlg2, &Fldlg2, CpuModes.All),
        Op(Mnemonic.Fldln2, &Fldln2, CpuModes.All),
        ..Ops([Mnemonic.Fcmovb, Mnemonic.Fcmove, Mnemonic.Fcmovbe, Mnemonic.Fcmovu, Mnemonic.Fcmovnb,
                Mnemonic.Fcmovne, Mnemonic.Fcmovnbe, Mnemonic.Fcmovnu], &Fcmov, CpuModes.All),
    ];

    /// <summary>
    /// The memory operand of an x87 load or arithmetic instruction as an extended value: a 32/64/80-bit real or a
    /// 16/32/64-bit integer. <paramref name="denormal"/> tells whether a 32/64-bit real was denormal in its own format
    /// (it is normal as an extended value), which is a denormal operand (DE) where the instruction reports one.
    /// </summary>
    private Float80 ReadX87Operand(ref DecodedOp d, out bool denormal)
    {
        var ex = X87Exceptions.None;
        var v = d.I.MemorySize switch
        {
            MemorySize.Float32 => Float80.FromBinary(ReadLinear(FpuOperand(ref d, 4, write: false), 4), 23, 8, ref ex),
            MemorySize.Float64 => Float80.FromBinary(ReadLinear64(FpuOperand(ref d, 8, write: false)), 52, 11, ref ex),
            MemorySize.Float80 => ReadFloat80(FpuOperand(ref d, 10, write: false)),
            MemorySize.Int16 => Float80.FromInteger((short)ReadLinear(FpuOperand(ref d, 2, write: false), 2)),
            MemorySize.Int32 => Float80.FromInteger((int)ReadLinear(FpuOperand(ref d, 4, write: false), 4)),
            _ => Float80.FromInteger((long)ReadLinear64(FpuOperand(ref d, 8, write: false))),
        };
        denormal = ex != X87Exceptions.None;
        return v;
    }

    /// <summary>FLD and FILD: push a memory operand or a copy of ST(i).</summary>
    private static void Fld(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        var ex = X87Exceptions.None;
        bool fromMemory = IsX87Memory(ref d);
        bool denormal = false;
        var v = fromMemory ? c.ReadX87Operand(ref d, out denormal) : f[d.Reg0];
        if (denormal) ex |= X87Exceptions.Denormal;
        f.SetC1(false);
        // An empty source is an underflow even when the stack is also full (C1 = 0, as the hardware reports it).
        if (!fromMemory && f.IsEmpty(d.Reg0))
        {
            if (f.StackFault(overflow: false)) return;
            f.Push(Float80.Indefinite);
            return;
        }
        if (!f.CanPush)
        {
            if (!f.StackFault(overflow: true)) f.Push(Float80.Indefinite);
            return;
        }
        // A signalling NaN converted from a 32/64-bit real is quieted with IE; 80-bit loads and register copies are verbatim.
        if (fromMemory && v.IsSignalingNaN && d.I.MemorySize != MemorySize.Float80)
        {
            ex |= X87Exceptions.Invalid;
            v = v.Quiet();
        }
        if (f.Signal(ex)) return;
        f.Push(v);
    }

    private static void Fst(InterpreterCpu c, ref DecodedOp d) => c.StoreReal(ref d, pop: false);
    private static void Fstp(InterpreterCpu c, ref DecodedOp d) => c.StoreReal(ref d, pop: true);

    private void StoreReal(ref DecodedOp d, bool pop)
    {
        var f = FpuEnter(ref d);
        f.SetC1(false);
        if (!IsX87Memory(ref d))
        {
            var value = f[0];
            if (f.IsEmpty(0))
            {
                if (f.StackFault(overflow: false)) return;
                value = Float80.Indefinite;
            }
            f.Set(d.Reg0, value);
            if (pop) f.Pop();
            return;
        }
        int size = d.I.MemorySize switch { MemorySize.Float32 => 4, MemorySize.Float64 => 8, _ => 10 };
        ulong at = FpuOperand(ref d, size, write: true);
        var v = f[0];
        if (f.IsEmpty(0))
        {
            if (f.StackFault(overflow: false)) return;
            v = Float80.Indefinite;
        }
        var ex = X87Exceptions.None;
        bool up = false;
        ulong bits = size switch
        {
            4 => v.ToBinary(23, 8, f.Rounding, ref ex, out up),
            8 => v.ToBinary(52, 11, f.Rounding, ref ex, out up),
            _ => 0,
        };
        // Unmasked overflow or underflow leaves memory alone, like the aborting exceptions.
        if (f.Unmasked(ex, X87State.Aborting | X87Exceptions.Overflow | X87Exceptions.Underflow))
        {
            f.Signal(ex);
            return;
        }
        if (size == 4) WriteLinear(at, 4, (uint)bits);
        else if (size == 8) WriteLinear64(at, bits);
        else WriteFloat80(at, v);
        f.Signal(ex);
        f.SetC1(up);
        if (pop) f.Pop();
    }

    private static void Fist(InterpreterCpu c, ref DecodedOp d) => c.StoreInteger(ref d, pop: false, truncate: false);
    private static void Fistp(InterpreterCpu c, ref DecodedOp d) => c.StoreInteger(ref d, pop: true, truncate: false);
    private static void Fisttp(InterpreterCpu c, ref DecodedOp d) => c.StoreInteger(ref d, pop: true, truncate: true);

    /// <summary>FIST/FISTP round under RC, FISTTP truncates. Out of range or NaN: IE, and masked the integer indefinite (only the sign bit set).</summary>
    private void StoreInteger(ref DecodedOp d, bool pop, bool truncate)
    {
        var f = FpuEnter(ref d);
        f.SetC1(false);
        int size = d.I.MemorySize switch { MemorySize.Int16 => 2, MemorySize.Int32 => 4, _ => 8 };
        ulong at = FpuOperand(ref d, size, write: true);
        var ex = X87Exceptions.None;
        bool up = false;
        long? value = null;
        if (f.IsEmpty(0))
        {
            if (f.StackFault(overflow: false)) return;
        }
        else value = f[0].ToInteger(size * 8, truncate ? X87Rounding.Zero : f.Rounding, ref ex, out up);
        if (f.Signal(ex)) return;
        ulong bits = value.HasValue ? (ulong)value.Value : 1UL << (size * 8 - 1);
        if (size == 8) WriteLinear64(at, bits);
        else WriteLinear(at, size, (uint)bits);
        f.SetC1(up);
        if (pop) f.Pop();
    }

    private static void Fld1(InterpreterCpu c, ref DecodedOp d) => c.PushConstant(ref d, Float80.One);
    private static void Fldz(InterpreterCpu c, ref DecodedOp d) => c.PushConstant(ref d, Float80.Zero(negative: false));
    // The irrational constants, as their first 64 significand bits and whether the next bits round a nearest result up.
    private static void Fldpi(InterpreterCpu c, ref DecodedOp d) => c.PushIrrational(ref d, 0xC90F_DAA2_2168_C234, 0x4000, nearestRoundsUp: true);
    private static void Fldl2e(InterpreterCpu c, ref DecodedOp d) => c.PushIrrational(ref d, 0xB8AA_3B29_5C17_F0BB, 0x3FFF, nearestRoundsUp: true);
    private static void Fldl2t(InterpreterCpu c, ref DecodedOp d) => c.PushIrrational(ref d, 0xD49A_784B_CD1B_8AFE, 0x4000, nearestRoundsUp: false);
    private static void Fldlg2(InterpreterCpu c, ref DecodedOp d) => c.PushIrrational(ref d, 0x9A20_9A84_FBCF_F798, 0x3FFD, nearestRoundsUp: true);
    private static void Fldln2(InterpreterCpu c, ref DecodedOp d) => c.PushIrrational(ref d, 0xB172_17F7_D1CF_79AB, 0x3FFE, nearestRoundsUp: true);

    /// <summary>The 387 and later round their built-in constants under RC (all of these are positive).</summary>
    private void PushIrrational(ref DecodedOp d, ulong truncated, ushort exponent, bool nearestRoundsUp)
    {
        var rc = _fpu.Rounding;
        bool up = rc == X87Rounding.Up || (rc == X87Rounding.Nearest && nearestRoundsUp);
        PushConstant(ref d, new Float80(up ? truncated + 1 : truncated, exponent));
    }

    private void PushConstant(ref DecodedOp d, Float80 v)
    {
        var f = FpuEnter(ref d);
        f.SetC1(false);
        if (!f.CanPush)
        {
            if (!f.StackFault(overflow: true)) f.Push(Float80.Indefinite);
            return;
        }
        f.Push(v);
    }

    /// <summary>FCMOVcc ST(0), ST(i): the condition is on EFLAGS (CF, ZF, PF) as left by FCOMI or an integer compare.</summary>
    private static void Fcmov(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        // C1 changes only on a stack underflow (to 0); otherwise the hardware leaves it.
        if (f.IsEmpty(0) || f.IsEmpty(d.Reg1))
        {
            if (!f.StackFault(overflow: false)) f.Set(0, Float80.Indefinite);
            return;
        }
        if (c.Condition(FcmovCondition(d.I.Mnemonic))) f.Set(0, f[d.Reg1]);
    }

    /// <summary>Iced gives FCMOVcc no condition code; the mnemonic names it.</summary>
    private static ConditionCode FcmovCondition(Mnemonic m) => m switch
    {
        Mnemonic.Fcmovb => ConditionCode.b,
        Mnemonic.Fcmove => ConditionCode.e,
        Mnemonic.Fcmovbe => ConditionCode.be,
        Mnemonic.Fcmovu => ConditionCode.p,
        Mnemonic.Fcmovnb => ConditionCode.ae,
        Mnemonic.Fcmovne => ConditionCode.ne,
        Mnemonic.Fcmovnbe => ConditionCode.a,
        _ => ConditionCode.np,
    };
}
