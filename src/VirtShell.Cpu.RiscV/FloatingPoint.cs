namespace VirtShell.Cpu.RiscV;

/// <summary>
/// The F and D extensions on the host's IEEE 754 arithmetic. Singles live NaN-boxed in the 64-bit registers, NaN
/// results are the canonical NaN, conversions to integers honour every rounding mode and saturate with NV. The host
/// rounds arithmetic to nearest-even whatever rm says, and sets no NX/UF/OF for it (docs/riscv.md lists this).
/// </summary>
public sealed unsafe partial class RiscvCpu
{
    private const ulong FlagInvalid = 16, FlagDivideByZero = 8, FlagInexact = 1;
    private const uint CanonicalNanS = 0x7FC0_0000;
    private const ulong CanonicalNanD = 0x7FF8_0000_0000_0000, BoxHigh = 0xFFFF_FFFF_0000_0000;

    private ulong _fflags, _frm;

    private void RequireFloat()
    {
        if ((_mstatus & Status.Fs) == 0) throw Illegal();
    }

    private ulong FloatCsr(ulong value)
    {
        RequireFloat();
        return value;
    }

    private void MarkFloatDirty() => _mstatus |= Status.Fs;

    private float GetS(int r) => (_f[r] & BoxHigh) == BoxHigh ? BitConverter.UInt32BitsToSingle((uint)_f[r]) : BitConverter.UInt32BitsToSingle(CanonicalNanS);
    private double GetD(int r) => BitConverter.UInt64BitsToDouble(_f[r]);

    private void SetS(int r, float v)
    {
        _f[r] = BoxHigh | (float.IsNaN(v) ? CanonicalNanS : BitConverter.SingleToUInt32Bits(v));
        MarkFloatDirty();
    }

    private void SetD(int r, double v)
    {
        _f[r] = double.IsNaN(v) ? CanonicalNanD : BitConverter.DoubleToUInt64Bits(v);
        MarkFloatDirty();
    }

    private void SetRaw(int r, ulong bits)
    {
        _f[r] = bits;
        MarkFloatDirty();
    }

    private void Raise(ulong flags)
    {
        if (flags == 0) return;
        _fflags |= flags;
        MarkFloatDirty();
    }

    private static bool IsSignaling(float v) => float.IsNaN(v) && (BitConverter.SingleToUInt32Bits(v) & 0x40_0000) == 0;
    private static bool IsSignaling(double v) => double.IsNaN(v) && (BitConverter.DoubleToUInt64Bits(v) & 0x8_0000_0000_0000) == 0;

    private void FloatingPoint(uint inst, int rd, int rs1, int rs2, int funct3)
    {
        RequireFloat();
        uint opcode = inst & 0x7F;
        bool isDouble = ((inst >> 25) & 3) == 1;
        switch (opcode)
        {
            case 0x07:
                {
                    ulong address = _x[rs1] + (ulong)(long)((int)inst >> 20);
                    if (funct3 == 2) SetRaw(rd, BoxHigh | Load(address, 4));
                    else if (funct3 == 3) SetRaw(rd, Load(address, 8));
                    else throw Illegal();
                    return;
                }
            case 0x27:
                {
                    ulong address = _x[rs1] + (ulong)(long)((int)((((inst >> 20) & 0xFE0) | ((inst >> 7) & 31)) << 20) >> 20);
                    if (funct3 == 2) Store(address, 4, _f[rs2]);
                    else if (funct3 == 3) Store(address, 8, _f[rs2]);
                    else throw Illegal();
                    return;
                }
            case 0x43 or 0x47 or 0x4B or 0x4F:
                FusedMultiplyAdd(opcode, inst, rd, rs1, rs2, isDouble);
                return;
        }
        if (((inst >> 25) & 3) > 1) throw Illegal();
        uint funct5 = inst >> 27;
        if (isDouble) OpDouble(funct5, funct3, rd, rs1, rs2);
        else OpSingle(funct5, funct3, rd, rs1, rs2);
    }

    private void FusedMultiplyAdd(uint opcode, uint inst, int rd, int rs1, int rs2, bool isDouble)
    {
        int rs3 = (int)(inst >> 27);
        if (((inst >> 25) & 3) > 1) throw Illegal();
        bool negateProduct = opcode is 0x4B or 0x4F, negateAddend = opcode is 0x47 or 0x4F;
        if (isDouble)
        {
            double a = GetD(rs1), b = GetD(rs2), c = GetD(rs3);
            if (IsSignaling(a) || IsSignaling(b) || IsSignaling(c) || (double.IsInfinity(a) && b == 0) || (a == 0 && double.IsInfinity(b))) Raise(FlagInvalid);
            double r = Math.FusedMultiplyAdd(negateProduct ? -a : a, b, negateAddend ? -c : c);
            if (double.IsNaN(r) && !double.IsNaN(a) && !double.IsNaN(b) && !double.IsNaN(c)) Raise(FlagInvalid);
            SetD(rd, r);
        }
        else
        {
            float a = GetS(rs1), b = GetS(rs2), c = GetS(rs3);
            if (IsSignaling(a) || IsSignaling(b) || IsSignaling(c) || (float.IsInfinity(a) && b == 0) || (a == 0 && float.IsInfinity(b))) Raise(FlagInvalid);
            float r = MathF.FusedMultiplyAdd(negateProduct ? -a : a, b, negateAddend ? -c : c);
            if (float.IsNaN(r) && !float.IsNaN(a) && !float.IsNaN(b) && !float.IsNaN(c)) Raise(FlagInvalid);
            SetS(rd, r);
        }
    }

    private int RoundingMode(int funct3)
    {
        int rm = funct3 == 7 ? (int)_frm : funct3;
        if (rm > 4) throw Illegal();
        return rm;
    }

    /// <summary>rm applied to an integral conversion: RNE, RTZ, RDN, RUP, RMM.</summary>
    private static double Round(double v, int rm) => rm switch
    {
        0 => Math.Round(v, MidpointRounding.ToEven),
        1 => Math.Truncate(v),
        2 => Math.Floor(v),
        3 => Math.Ceiling(v),
        _ => Math.Round(v, MidpointRounding.AwayFromZero),
    };

    /// <summary>FCVT.W/WU/L/LU: rounded by rm, saturating with NV (NaN converts to the largest value).</summary>
    private ulong ToInteger(double v, int kind, int rm)
    {
        double r = Round(v, rm);
        (double min, double max, ulong low, ulong high) = kind switch
        {
            0 => (int.MinValue, int.MaxValue, unchecked((ulong)(long)int.MinValue), (ulong)int.MaxValue),
            1 => (0d, uint.MaxValue, 0UL, ulong.MaxValue), // WU saturates to 0xFFFFFFFF sign-extended
            2 => (long.MinValue, 9223372036854775807d, unchecked((ulong)long.MinValue), (ulong)long.MaxValue),
            _ => (0d, 18446744073709551615d, 0UL, ulong.MaxValue),
        };
        if (double.IsNaN(v) || r > max || (kind >= 2 && r >= max))
        {
            Raise(FlagInvalid);
            return high;
        }
        if (r < min)
        {
            Raise(FlagInvalid);
            return low;
        }
        if (r != v) Raise(FlagInexact);
        return kind switch
        {
            0 => (ulong)(long)(int)r,
            1 => (ulong)(long)(int)(uint)r,
            2 => (ulong)(long)r,
            _ => (ulong)r,
        };
    }

    private double FromInteger(ulong x, int kind) => kind switch
    {
        0 => (int)x,
        1 => (uint)x,
        2 => (long)x,
        _ => (double)x,
    };

    private static ulong Classify(double v, bool signalingNan)
    {
        bool negative = double.IsNegative(v);
        if (double.IsNaN(v)) return signalingNan ? 1u << 8 : 1u << 9;
        if (double.IsInfinity(v)) return negative ? 1u : 1u << 7;
        if (v == 0) return negative ? 1u << 3 : 1u << 4;
        bool subnormal = double.IsSubnormal(v);
        return negative ? (subnormal ? 1u << 2 : 1u << 1) : (subnormal ? 1u << 5 : 1u << 6);
    }

    private void OpDouble(uint funct5, int funct3, int rd, int rs1, int rs2)
    {
        double a = GetD(rs1), b = GetD(rs2);
        switch (funct5)
        {
            case 0x00: SetD(rd, Arithmetic(a, b, a + b)); break;
            case 0x01: SetD(rd, Arithmetic(a, b, a - b)); break;
            case 0x02: SetD(rd, Arithmetic(a, b, a * b)); break;
            case 0x03:
                if (b == 0 && !double.IsNaN(a) && a != 0) Raise(FlagDivideByZero);
                SetD(rd, Arithmetic(a, b, a / b));
                break;
            case 0x0B:
                if (IsSignaling(a) || (a < 0)) Raise(FlagInvalid);
                SetD(rd, Math.Sqrt(a));
                break;
            case 0x04: SetRaw(rd, SignInject(_f[rs1], _f[rs2], 63, funct3)); break;
            case 0x05: SetD(rd, MinMax(a, b, funct3 == 1)); break;
            case 0x08: // FCVT.D.S
                {
                    if (rs2 != 0) throw Illegal();
                    float single = GetS(rs1);
                    if (IsSignaling(single)) Raise(FlagInvalid);
                    SetD(rd, single);
                    break;
                }
            case 0x14: WriteX(rd, Compare(a, b, funct3)); break;
            case 0x18: WriteX(rd, ToInteger(a, rs2, RoundingMode(funct3))); break;
            case 0x1A: RoundingMode(funct3); SetD(rd, FromInteger(_x[rs1], rs2)); break;
            case 0x1C:
                if (funct3 == 0) WriteX(rd, _f[rs1]);
                else if (funct3 == 1) WriteX(rd, Classify(a, IsSignaling(a)));
                else throw Illegal();
                break;
            case 0x1E: SetRaw(rd, _x[rs1]); break;
            default: throw Illegal();
        }
    }

    private void OpSingle(uint funct5, int funct3, int rd, int rs1, int rs2)
    {
        float a = GetS(rs1), b = GetS(rs2);
        switch (funct5)
        {
            case 0x00: SetS(rd, (float)Arithmetic(a, b, a + b)); break;
            case 0x01: SetS(rd, (float)Arithmetic(a, b, a - b)); break;
            case 0x02: SetS(rd, (float)Arithmetic(a, b, a * b)); break;
            case 0x03:
                if (b == 0 && !float.IsNaN(a) && a != 0) Raise(FlagDivideByZero);
                SetS(rd, (float)Arithmetic(a, b, a / b));
                break;
            case 0x0B:
                if (IsSignaling(a) || a < 0) Raise(FlagInvalid);
                SetS(rd, MathF.Sqrt(a));
                break;
            case 0x04: SetRaw(rd, BoxHigh | SignInject(SingleBits(rs1), SingleBits(rs2), 31, funct3)); break;
            case 0x05: SetS(rd, (float)MinMax(a, b, funct3 == 1)); break;
            case 0x08: // FCVT.S.D
                {
                    if (rs2 != 1) throw Illegal();
                    double wide = GetD(rs1);
                    float narrowed = (float)wide;
                    if (IsSignaling(wide)) Raise(FlagInvalid);
                    if (!double.IsNaN(wide) && narrowed != wide) Raise(FlagInexact);
                    SetS(rd, narrowed);
                    break;
                }
            case 0x14: WriteX(rd, Compare(a, b, funct3)); break;
            case 0x18: WriteX(rd, ToInteger(a, rs2, RoundingMode(funct3))); break;
            case 0x1A:
                {
                    RoundingMode(funct3);
                    double wide = FromInteger(_x[rs1], rs2);
                    float narrow = rs2 switch { 0 => (int)_x[rs1], 1 => (uint)_x[rs1], 2 => (long)_x[rs1], _ => (float)_x[rs1] };
                    if (narrow != wide) Raise(FlagInexact);
                    SetS(rd, narrow);
                    break;
                }
            case 0x1C:
                if (funct3 == 0) WriteX(rd, (ulong)(long)(int)(uint)_f[rs1]);
                else if (funct3 == 1) WriteX(rd, Classify(a, IsSignaling(a)));
                else throw Illegal();
                break;
            case 0x1E: SetRaw(rd, BoxHigh | (uint)_x[rs1]); break;
            default: throw Illegal();
        }
    }

    /// <summary>A single's bits as an operand of sign injection: an improperly boxed value is the canonical NaN.</summary>
    private ulong SingleBits(int r) => (_f[r] & BoxHigh) == BoxHigh ? (uint)_f[r] : CanonicalNanS;

    private static ulong SignInject(ulong a, ulong b, int signBit, int funct3)
    {
        ulong sign = 1UL << signBit;
        ulong s = funct3 switch
        {
            0 => b & sign,
            1 => ~b & sign,
            _ => (a ^ b) & sign,
        };
        return (a & ~sign & ((sign << 1) - 1)) | s;
    }

    /// <summary>NV for a signaling NaN operand, or for an invalid operation (∞−∞, 0·∞, 0/0) that made a NaN.</summary>
    private double Arithmetic(double a, double b, double result)
    {
        if (IsSignaling(a) || IsSignaling(b) || (double.IsNaN(result) && !double.IsNaN(a) && !double.IsNaN(b))) Raise(FlagInvalid);
        return result;
    }

    private double Arithmetic(float a, float b, float result)
    {
        if (IsSignaling(a) || IsSignaling(b) || (float.IsNaN(result) && !float.IsNaN(a) && !float.IsNaN(b))) Raise(FlagInvalid);
        return result;
    }

    private double MinMax(double a, double b, bool max)
    {
        if (IsSignaling(a) || IsSignaling(b)) Raise(FlagInvalid);
        if (double.IsNaN(a)) return b;
        if (double.IsNaN(b)) return a;
        if (a == b) return max ? (double.IsNegative(a) ? b : a) : (double.IsNegative(a) ? a : b);
        return max ? Math.Max(a, b) : Math.Min(a, b);
    }

    /// <summary>FLE (0), FLT (1): any NaN is NV; FEQ (2): only a signaling NaN is.</summary>
    private ulong Compare(double a, double b, int funct3)
    {
        bool unordered = double.IsNaN(a) || double.IsNaN(b);
        if (funct3 == 2 ? IsSignaling(a) || IsSignaling(b) : unordered) Raise(FlagInvalid);
        if (unordered) return 0;
        return funct3 switch
        {
            0 => a <= b ? 1UL : 0,
            1 => a < b ? 1UL : 0,
            2 => a == b ? 1UL : 0,
            _ => throw Illegal(),
        };
    }

    private void WriteX(int rd, ulong value)
    {
        if (rd != 0) _x[rd] = value;
    }
}
