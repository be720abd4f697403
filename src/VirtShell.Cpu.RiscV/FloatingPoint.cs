namespace VirtShell.Cpu.RiscV;

/// <summary>
/// The F and D extensions. Singles live NaN-boxed in the 64-bit registers. Whatever rounds (arithmetic, square root,
/// FMA, conversions) goes through <see cref="SoftFloat"/>, which honours rm and frm and sets all five flags; the
/// exact operations (sign injection, min/max, compares, classification) use the host's doubles.
/// </summary>
public sealed unsafe partial class RiscvCpu
{
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

    private void Raise(uint flags)
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
        if (((inst >> 25) & 3) > 1) throw Illegal();
        SoftFloat.Rounding rm = RoundingMode((int)(inst >> 12) & 7);
        int rs3 = (int)(inst >> 27);
        bool negateProduct = opcode is 0x4B or 0x4F, negateAddend = opcode is 0x47 or 0x4F;
        uint flags = 0;
        SoftFloat.Format format = isDouble ? SoftFloat.Binary64 : SoftFloat.Binary32;
        ulong result = SoftFloat.MultiplyAdd(FloatBits(rs1, isDouble), FloatBits(rs2, isDouble), FloatBits(rs3, isDouble),
            negateProduct, negateAddend, format, rm, ref flags);
        SetFloat(rd, result, isDouble);
        Raise(flags);
    }

    /// <summary>The arithmetic and conversions that round (those with an rm field); false for the other operations.</summary>
    private bool RoundedOperation(uint funct5, int funct3, int rd, int rs1, int rs2, bool isDouble)
    {
        SoftFloat.Format format = isDouble ? SoftFloat.Binary64 : SoftFloat.Binary32;
        uint flags = 0;
        switch (funct5)
        {
            case 0x00 or 0x01 or 0x02 or 0x03:
                {
                    SoftFloat.Rounding rm = RoundingMode(funct3);
                    ulong a = FloatBits(rs1, isDouble), b = FloatBits(rs2, isDouble);
                    SetFloat(rd, funct5 switch
                    {
                        0x00 => SoftFloat.Add(a, b, format, rm, ref flags),
                        0x01 => SoftFloat.Subtract(a, b, format, rm, ref flags),
                        0x02 => SoftFloat.Multiply(a, b, format, rm, ref flags),
                        _ => SoftFloat.Divide(a, b, format, rm, ref flags),
                    }, isDouble);
                    break;
                }
            case 0x0B:
                if (rs2 != 0) throw Illegal();
                SetFloat(rd, SoftFloat.SquareRoot(FloatBits(rs1, isDouble), format, RoundingMode(funct3), ref flags), isDouble);
                break;
            case 0x08: // FCVT.D.S, FCVT.S.D
                {
                    if (rs2 != (isDouble ? 0 : 1)) throw Illegal();
                    SoftFloat.Format source = isDouble ? SoftFloat.Binary32 : SoftFloat.Binary64;
                    SetFloat(rd, SoftFloat.Convert(FloatBits(rs1, !isDouble), source, format, RoundingMode(funct3), ref flags), isDouble);
                    break;
                }
            case 0x18: // FCVT.W/WU/L/LU
                {
                    if (rs2 > 3) throw Illegal();
                    ulong value = SoftFloat.ToInteger(FloatBits(rs1, isDouble), format, rs2 < 2 ? 32 : 64, (rs2 & 1) == 0, RoundingMode(funct3), ref flags);
                    WriteX(rd, rs2 < 2 ? (ulong)(long)(int)value : value);
                    break;
                }
            case 0x1A: // FCVT.S/D.W/WU/L/LU
                {
                    if (rs2 > 3) throw Illegal();
                    ulong x = _x[rs1];
                    long signedValue = rs2 == 0 ? (int)x : (long)x;
                    (ulong magnitude, bool negative) = rs2 switch
                    {
                        0 or 2 => (signedValue < 0 ? 0 - (ulong)signedValue : (ulong)signedValue, signedValue < 0),
                        1 => ((ulong)(uint)x, false),
                        _ => (x, false),
                    };
                    SetFloat(rd, SoftFloat.FromInteger(magnitude, negative, format, RoundingMode(funct3), ref flags), isDouble);
                    break;
                }
            default:
                return false;
        }
        Raise(flags);
        return true;
    }

    private SoftFloat.Rounding RoundingMode(int funct3)
    {
        int rm = funct3 == 7 ? (int)_frm : funct3;
        if (rm > 4) throw Illegal();
        return (SoftFloat.Rounding)rm;
    }

    /// <summary>An operand's bits in its format: a single that is not NaN-boxed is the canonical NaN.</summary>
    private ulong FloatBits(int r, bool isDouble) => isDouble ? _f[r] : SingleBits(r);

    private void SetFloat(int rd, ulong bits, bool isDouble) => SetRaw(rd, isDouble ? bits : BoxHigh | bits);

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
        if (RoundedOperation(funct5, funct3, rd, rs1, rs2, isDouble: true)) return;
        double a = GetD(rs1), b = GetD(rs2);
        switch (funct5)
        {
            case 0x04: SetRaw(rd, SignInject(_f[rs1], _f[rs2], 63, funct3)); break;
            case 0x05: SetD(rd, MinMax(a, b, funct3 == 1)); break;
            case 0x14: WriteX(rd, Compare(a, b, funct3)); break;
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
        if (RoundedOperation(funct5, funct3, rd, rs1, rs2, isDouble: false)) return;
        float a = GetS(rs1), b = GetS(rs2);
        switch (funct5)
        {
            case 0x04: SetRaw(rd, BoxHigh | SignInject(SingleBits(rs1), SingleBits(rs2), 31, funct3)); break;
            case 0x05: SetS(rd, (float)MinMax(a, b, funct3 == 1)); break;
            case 0x14: WriteX(rd, Compare(a, b, funct3)); break;
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

    private double MinMax(double a, double b, bool max)
    {
        if (IsSignaling(a) || IsSignaling(b)) Raise(SoftFloat.Invalid);
        if (double.IsNaN(a)) return b;
        if (double.IsNaN(b)) return a;
        if (a == b) return max ? (double.IsNegative(a) ? b : a) : (double.IsNegative(a) ? a : b);
        return max ? Math.Max(a, b) : Math.Min(a, b);
    }

    /// <summary>FLE (0), FLT (1): any NaN is NV; FEQ (2): only a signaling NaN is.</summary>
    private ulong Compare(double a, double b, int funct3)
    {
        bool unordered = double.IsNaN(a) || double.IsNaN(b);
        if (funct3 == 2 ? IsSignaling(a) || IsSignaling(b) : unordered) Raise(SoftFloat.Invalid);
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
