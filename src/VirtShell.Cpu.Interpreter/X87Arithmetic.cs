using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// x87 arithmetic: FADD FSUB FSUBR FMUL FDIV FDIVR in every form (ST(0)/ST(i), memory real and integer, popping),
// FCHS FABS FSQRT FRNDINT FSCALE FXTRACT FPREM FPREM1, the comparisons FCOM FUCOM FICOM FCOMI FUCOMI FTST FXAM, and
// the transcendentals FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1.
//
// Registers hold exact 80-bit values. + - × ÷ √ are exact and rounded once under the precision and rounding control
// (Float80Arithmetic.cs), as are comparisons, FCHS FABS FRNDINT FSCALE FXTRACT FPREM FPREM1; only the
// transcendentals compute in double.
public sealed unsafe partial class InterpreterCpu
{
    private enum X87Op : byte { Add, Sub, Mul, Div }
    private enum X87Function : byte { Sin, Cos, SinCos, Tan, TwoToXMinusOne, Atan, YLog2X, YLog2XPlusOne }

    private static OpcodeRow[] X87ArithmeticOps() =>
    [
        Op(Mnemonic.Fadd, &Fadd, CpuModes.All), Op(Mnemonic.Fiadd, &Fadd, CpuModes.All),
        Op(Mnemonic.Faddp, &Faddp, CpuModes.All), Op(Mnemonic.Fsub, &Fsub, CpuModes.All),
        Op(Mnemonic.Fisub, &Fsub, CpuModes.All), Op(Mnemonic.Fsubp, &Fsubp, CpuModes.All),
        Op(Mnemonic.Fsubr, &Fsubr, CpuModes.All), Op(Mnemonic.Fisubr, &Fsubr, CpuModes.All),
        Op(Mnemonic.Fsubrp, &Fsubrp, CpuModes.All), Op(Mnemonic.Fmul, &Fmul, CpuModes.All),
        Op(Mnemonic.Fimul, &Fmul, CpuModes.All), Op(Mnemonic.Fmulp, &Fmulp, CpuModes.All),
        Op(Mnemonic.Fdiv, &Fdiv, CpuModes.All), Op(Mnemonic.Fidiv, &Fdiv, CpuModes.All),
        Op(Mnemonic.Fdivp, &Fdivp, CpuModes.All), Op(Mnemonic.Fdivr, &Fdivr, CpuModes.All),
        Op(Mnemonic.Fidivr, &Fdivr, CpuModes.All), Op(Mnemonic.Fdivrp, &Fdivrp, CpuModes.All),
        Op(Mnemonic.Fchs, &Fchs, CpuModes.All), Op(Mnemonic.Fabs, &Fabs, CpuModes.All),
        Op(Mnemonic.Fsqrt, &Fsqrt, CpuModes.All), Op(Mnemonic.Frndint, &Frndint, CpuModes.All),
        Op(Mnemonic.Fscale, &Fscale, CpuModes.All), Op(Mnemonic.Fxtract, &Fxtract, CpuModes.All),
        Op(Mnemonic.Fprem, &Fprem, CpuModes.All), Op(Mnemonic.Fprem1, &Fprem1, CpuModes.All),
        Op(Mnemonic.Fcom, &Fcom, CpuModes.All), Op(Mnemonic.Ficom, &Fcom, CpuModes.All),
        Op(Mnemonic.Fcomp, &Fcomp, CpuModes.All), Op(Mnemonic.Ficomp, &Fcomp, CpuModes.All),
        Op(Mnemonic.Fcompp, &Fcompp, CpuModes.All), Op(Mnemonic.Fucom, &Fucom, CpuModes.All),
        Op(Mnemonic.Fucomp, &Fucomp, CpuModes.All), Op(Mnemonic.Fucompp, &Fucompp, CpuModes.All),
        Op(Mnemonic.Fcomi, &Fcomi, CpuModes.All), Op(Mnemonic.Fcomip, &Fcomip, CpuModes.All),
        Op(Mnemonic.Fucomi, &Fucomi, CpuModes.All), Op(Mnemonic.Fucomip, &Fucomip, CpuModes.All),
        Op(Mnemonic.Ftst, &Ftst, CpuModes.All), Op(Mnemonic.Fxam, &Fxam, CpuModes.All),
        Op(Mnemonic.Fsin, &Fsin, CpuModes.All), Op(Mnemonic.Fcos, &Fcos, CpuModes.All),
        Op(Mnemonic.Fsincos, &Fsincos, CpuModes.All), Op(Mnemonic.Fptan, &Fptan, CpuModes.All),
        Op(Mnemonic.F2xm1, &F2xm1, CpuModes.All), Op(Mnemonic.Fpatan, &Fpatan, CpuModes.All),
        Op(Mnemonic.Fyl2x, &Fyl2x, CpuModes.All), Op(Mnemonic.Fyl2xp1, &Fyl2xp1, CpuModes.All),
    ];

    private static void Fadd(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Add, reverse: false, pop: false);
    private static void Faddp(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Add, reverse: false, pop: true);
    private static void Fsub(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Sub, reverse: false, pop: false);
    private static void Fsubp(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Sub, reverse: false, pop: true);
    private static void Fsubr(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Sub, reverse: true, pop: false);
    private static void Fsubrp(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Sub, reverse: true, pop: true);
    private static void Fmul(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Mul, reverse: false, pop: false);
    private static void Fmulp(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Mul, reverse: false, pop: true);
    private static void Fdiv(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Div, reverse: false, pop: false);
    private static void Fdivp(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Div, reverse: false, pop: true);
    private static void Fdivr(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Div, reverse: true, pop: false);
    private static void Fdivrp(InterpreterCpu c, ref DecodedOp d) => c.X87Binary(ref d, X87Op.Div, reverse: true, pop: true);

    /// <summary>
    /// dest = dest op src (src op dest when reversed). With a memory operand dest is ST(0); otherwise Iced's operand
    /// order gives dest and src (FADD ST(0),ST(i) / FADD ST(i),ST(0) / FADDP ST(i),ST(0)).
    /// </summary>
    private void X87Binary(ref DecodedOp d, X87Op op, bool reverse, bool pop)
    {
        var f = FpuEnter(ref d);
        var ex = X87Exceptions.None;
        int dst;
        Float80 src;
        bool empty, denormal = false;
        if (IsX87Memory(ref d))
        {
            src = ReadX87Operand(ref d, out denormal);
            dst = 0;
            empty = f.IsEmpty(0);
        }
        else
        {
            dst = d.Reg0;
            src = f[d.Reg1];
            empty = f.IsEmpty(d.Reg0) || f.IsEmpty(d.Reg1);
        }
        f.SetC1(false);
        if (empty)
        {
            if (f.StackFault(overflow: false)) return;
            f.Set(dst, Float80.Indefinite);
            if (pop) f.Pop();
            return;
        }
        var a = f[dst];
        bool up;
        var r = reverse ? Arithmetic(op, src, a, denormal, ref ex, out up) : Arithmetic(op, a, src, denormal, ref ex, out up);
        if (f.Signal(ex)) return;
        f.Set(dst, r);
        f.SetC1(up);
        if (pop) f.Pop();
    }

    /// <summary>The result when an operand is a NaN or an unsupported encoding (IE for signalling NaNs and unsupported), else null.</summary>
    private static Float80? NaNResult(Float80 x, Float80 y, ref X87Exceptions ex)
    {
        if (x.IsUnsupported || y.IsUnsupported)
        {
            ex |= X87Exceptions.Invalid;
            return Float80.Indefinite;
        }
        if (!x.IsNaN && !y.IsNaN) return null;
        if (x.IsSignalingNaN || y.IsSignalingNaN) ex |= X87Exceptions.Invalid;
        if (x.IsNaN && y.IsNaN)
        {
            // A QNaN wins over an SNaN; between two of a kind, the larger significand, then the positive one.
            if (x.IsSignalingNaN != y.IsSignalingNaN) return x.IsSignalingNaN ? y : x;
            if (x.Significand != y.Significand) return (x.Significand > y.Significand ? x : y).Quiet();
            return (y.Negative ? x : y).Quiet();
        }
        return (x.IsNaN ? x : y).Quiet();
    }

    private static Float80? NaNResult(Float80 x, ref X87Exceptions ex) => NaNResult(x, Float80.One, ref ex);

    /// <summary>
    /// x op y, exactly rounded (Float80Arithmetic.cs); here the NaN, infinity and zero cases. DE is reported for a
    /// denormal operand (<paramref name="denormalOperand"/>: one from memory) unless an operand is a NaN.
    /// </summary>
    private Float80 Arithmetic(X87Op op, Float80 x, Float80 y, bool denormalOperand, ref X87Exceptions ex, out bool up)
    {
        up = false;
        if (NaNResult(x, y, ref ex) is { } nan) return nan;
        // A division by zero is found before a denormal dividend is.
        if ((x.IsDenormal || y.IsDenormal || denormalOperand) && !(op == X87Op.Div && y.IsZero)) ex |= X87Exceptions.Denormal;
        int precision = _fpu.Precision;
        var rc = _fpu.Rounding;
        bool sign = x.Negative != y.Negative;
        switch (op)
        {
            case X87Op.Add or X87Op.Sub:
                if (op == X87Op.Sub) y = y.Negate();
                if (!x.IsInfinity && !y.IsInfinity) return Float80.Add(x, y, precision, rc, ref ex, out up);
                if (x.IsInfinity && y.IsInfinity && x.Negative != y.Negative) return Invalid(ref ex);
                return x.IsInfinity ? x : y;
            case X87Op.Mul:
                if (!x.IsInfinity && !y.IsInfinity) return Float80.Multiply(x, y, precision, rc, ref ex, out up);
                return x.IsZero || y.IsZero ? Invalid(ref ex) : Float80.Infinity(sign);
            default:
                if (x.IsInfinity || y.IsInfinity)
                    return x.IsInfinity && y.IsInfinity ? Invalid(ref ex) : x.IsInfinity ? Float80.Infinity(sign) : Float80.Zero(sign);
                if (!y.IsZero) return Float80.Divide(x, y, precision, rc, ref ex, out up);
                if (x.IsZero) return Invalid(ref ex);
                ex |= X87Exceptions.ZeroDivide;
                return Float80.Infinity(sign);
        }
    }

    /// <summary>An invalid operation: IE, and the real indefinite as the masked response.</summary>
    private static Float80 Invalid(ref X87Exceptions ex)
    {
        ex |= X87Exceptions.Invalid;
        return Float80.Indefinite;
    }

    /// <summary>Whether ST(0) can be an operand; if it is empty, handles the underflow (masked: ST(0) becomes the indefinite).</summary>
    private static bool St0Present(X87State f)
    {
        f.SetC1(false);
        if (!f.IsEmpty(0)) return true;
        if (!f.StackFault(overflow: false)) f.Set(0, Float80.Indefinite);
        return false;
    }

    /// <summary>Whether ST(0) and ST(1) can be operands; on underflow (masked) the destination ST(1), popping too when asked.</summary>
    private static bool St01Present(X87State f, int destination, bool pop)
    {
        f.SetC1(false);
        if (!f.IsEmpty(0) && !f.IsEmpty(1)) return true;
        if (f.StackFault(overflow: false)) return false;
        f.Set(destination, Float80.Indefinite);
        if (pop) f.Pop();
        return false;
    }

    private static void Fchs(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        if (St0Present(f)) f.Set(0, f[0].Negate());
    }

    private static void Fabs(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        if (St0Present(f)) f.Set(0, f[0].Abs());
    }

    private static void Fsqrt(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        if (!St0Present(f)) return;
        var x = f[0];
        var ex = X87Exceptions.None;
        bool up = false;
        Float80 r;
        if (NaNResult(x, ref ex) is { } nan) r = nan;
        else if (x.IsZero || (x.IsInfinity && !x.Negative)) r = x;
        else if (x.Negative)
        {
            ex |= X87Exceptions.Invalid;
            r = Float80.Indefinite;
        }
        else
        {
            if (x.IsDenormal) ex |= X87Exceptions.Denormal;
            r = Float80.SquareRoot(x, f.Precision, f.Rounding, ref ex, out up);
        }
        if (f.Signal(ex)) return;
        f.Set(0, r);
        f.SetC1(up);
    }

    private static void Frndint(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        if (!St0Present(f)) return;
        var ex = X87Exceptions.None;
        bool up = false;
        var x = f[0];
        if (x.IsDenormal) ex |= X87Exceptions.Denormal;
        var r = NaNResult(x, ref ex) ?? x.RoundToInteger(f.Rounding, ref ex, out up);
        if (f.Signal(ex)) return;
        f.Set(0, r);
        f.SetC1(up);
    }

    /// <summary>ST(0) × 2^trunc(ST(1)), exactly (only the result's range can round).</summary>
    private static void Fscale(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        if (!St01Present(f, 0, pop: false)) return;
        var ex = X87Exceptions.None;
        bool up = false;
        Float80 x = f[0], y = f[1], r;
        if (NaNResult(x, y, ref ex) is { } nan) r = nan;
        else if (y.IsInfinity)
        {
            if (x.IsDenormal) ex |= X87Exceptions.Denormal;
            // 0 × 2^+inf and inf × 2^-inf have no value; otherwise the scale wins.
            bool invalid = y.Negative ? x.IsInfinity : x.IsZero;
            if (invalid) ex |= X87Exceptions.Invalid;
            r = invalid ? Float80.Indefinite : x.IsZero || x.IsInfinity ? x : y.Negative ? Float80.Zero(x.Negative) : Float80.Infinity(x.Negative);
        }
        else if (x.IsZero || x.IsInfinity)
        {
            if (y.IsDenormal) ex |= X87Exceptions.Denormal;
            r = x;
        }
        else
        {
            if (x.IsDenormal || y.IsDenormal) ex |= X87Exceptions.Denormal;
            var ignored = X87Exceptions.None;
            // Beyond ±2^17 every result over- or underflows anyway.
            long n = Math.Clamp(y.ToInteger(64, X87Rounding.Zero, ref ignored, out _) ?? (y.Negative ? long.MinValue : long.MaxValue), -(1 << 17), 1 << 17);
            var (e, sig) = x.Normalized();
            r = Float80.FromParts(x.Negative, e + (int)n, sig, f.Rounding, ref ex, out up);
        }
        if (f.Signal(ex)) return;
        f.Set(0, r);
        f.SetC1(up);
    }

    /// <summary>Splits ST(0) into exponent (left in ST(1)) and significand (pushed, exponent field 3FFF).</summary>
    private static void Fxtract(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        f.SetC1(false);
        if (f.IsEmpty(0) || !f.CanPush)
        {
            // Masked, an underflow or an overflow makes both halves the indefinite: ST(0) is replaced, then the push.
            if (f.StackFault(overflow: !f.IsEmpty(0))) return;
            f.Set(0, Float80.Indefinite);
            f.Push(Float80.Indefinite);
            return;
        }
        var ex = X87Exceptions.None;
        var x = f[0];
        Float80 exponent, significand;
        if (NaNResult(x, ref ex) is { } nan) exponent = significand = nan;
        else if (x.IsZero)
        {
            ex |= X87Exceptions.ZeroDivide;
            (exponent, significand) = (Float80.Infinity(negative: true), x);
        }
        else if (x.IsInfinity) (exponent, significand) = (Float80.Infinity(negative: false), x);
        else
        {
            if (x.IsDenormal) ex |= X87Exceptions.Denormal;
            var (e, sig) = x.Normalized();
            exponent = Float80.FromInteger(e);
            significand = new Float80(sig, (ushort)((x.Negative ? 0x8000 : 0) | 0x3FFF));
        }
        if (f.Signal(ex)) return;
        f.Set(0, exponent);
        f.Push(significand);
    }

    private static void Fprem(InterpreterCpu c, ref DecodedOp d) => c.PartialRemainder(ref d, nearest: false);
    private static void Fprem1(InterpreterCpu c, ref DecodedOp d) => c.PartialRemainder(ref d, nearest: true);

    /// <summary>
    /// FPREM (quotient truncated) and FPREM1 (quotient rounded to nearest), exactly. When the exponents differ by 64 or
    /// more the x87 only reduces partway and sets C2 so that software loops.
    /// Complete: C2=0 and the quotient's low bits in C0 (Q2), C3 (Q1), C1 (Q0).
    /// </summary>
    private void PartialRemainder(ref DecodedOp d, bool nearest)
    {
        var f = FpuEnter(ref d);
        if (!St01Present(f, 0, pop: false))
        {
            f.SetC2(false); // the hardware reports a stack underflow as a complete reduction
            return;
        }
        var ex = X87Exceptions.None;
        Float80 x = f[0], y = f[1];
        if (NaNResult(x, y, ref ex) is { } nan)
        {
            if (f.Signal(ex)) return;
            f.Set(0, nan);
            f.SetC2(false);
            return;
        }
        if (x.IsInfinity || y.IsZero)
        {
            if (f.Signal(ex | X87Exceptions.Invalid)) return;
            f.Set(0, Float80.Indefinite);
            f.SetC2(false);
            return;
        }
        if (x.IsDenormal || y.IsDenormal) ex |= X87Exceptions.Denormal;
        if (x.IsZero || y.IsInfinity)
        {
            if (f.Signal(ex)) return;
            f.Set(0, x.Canonical());
            f.SetConditionCodes(0);
            return;
        }
        var (ex0, sx) = x.Normalized();
        var (ey, sy) = y.Normalized();
        int diff = ex0 - ey;
        if (diff < (nearest ? -1 : 0))
        {
            if (f.Signal(ex)) return;
            // The dividend is the remainder, written back in the canonical encoding.
            f.Set(0, x.Canonical());
            f.SetConditionCodes(0);
            return;
        }
        // A partial reduction takes N quotient bits, 32 <= N <= 63 "implementation-dependent"; the hardware's N is 32
        // plus the exponent difference modulo 32.
        bool complete = diff < 64;
        int k = complete ? diff : (diff & 31) | 32;
        // One extra bit on both sides lets FPREM1 handle a divisor up to twice the dividend (diff = -1).
        UInt128 num = (UInt128)sx << (k + 1), den = (UInt128)sy << 1;
        UInt128 q = num / den, rem = num % den;
        bool negative = x.Negative;
        if (nearest && complete && (rem * 2 > den || (rem * 2 == den && (q & 1) != 0)))
        {
            rem = den - rem;
            q++;
            negative = !negative;
        }
        // rem × 2^(ex0 - k - 64); it fits 64 bits after dropping a bit that is zero (num and den are even) if needed.
        int exponent = ex0 - k - 1;
        if (rem >> 64 != 0)
        {
            rem >>= 1;
            exponent++;
        }
        var r = Float80.FromParts(negative, exponent, (ulong)rem, f.Rounding, ref ex, out _);
        if (rem == 0) r = Float80.Zero(x.Negative);
        if (f.Signal(ex)) return;
        f.Set(0, r);
        if (!complete)
        {
            f.SetConditionCodes(X87State.StatusC2);
            return;
        }
        uint qb = (uint)(q & 7);
        f.SetConditionCodes((ushort)(((qb & 4) != 0 ? X87State.StatusC0 : 0) | ((qb & 2) != 0 ? X87State.StatusC3 : 0) | ((qb & 1) != 0 ? X87State.StatusC1 : 0)));
    }

    private static void Fcom(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: false, pops: 0, eflags: false);
    private static void Fcomp(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: false, pops: 1, eflags: false);
    private static void Fcompp(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: false, pops: 2, eflags: false);
    private static void Fucom(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: true, pops: 0, eflags: false);
    private static void Fucomp(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: true, pops: 1, eflags: false);
    private static void Fucompp(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: true, pops: 2, eflags: false);
    private static void Fcomi(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: false, pops: 0, eflags: true);
    private static void Fcomip(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: false, pops: 1, eflags: true);
    private static void Fucomi(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: true, pops: 0, eflags: true);
    private static void Fucomip(InterpreterCpu c, ref DecodedOp d) => c.X87Compare(ref d, quiet: true, pops: 1, eflags: true);

    /// <summary>
    /// Compares ST(0) with a memory operand, ST(i), or ST(1) when there is no operand (FCOMPP/FUCOMPP). The result
    /// goes to C3 C2 C0 (greater 000, less 001, equal 100, unordered 111), or for FCOMI to ZF PF CF the same way with
    /// OF SF AF cleared. The unordered forms (FUCOM) raise IE only for signalling NaNs.
    /// </summary>
    private void X87Compare(ref DecodedOp d, bool quiet, int pops, bool eflags)
    {
        var f = FpuEnter(ref d);
        var ex = X87Exceptions.None;
        Float80 src;
        bool empty, denormal = false;
        if (IsX87Memory(ref d))
        {
            src = ReadX87Operand(ref d, out denormal);
            empty = f.IsEmpty(0);
        }
        else
        {
            int i = d.I.OpCount == 2 ? d.Reg1 : 1;
            src = f[i];
            empty = f.IsEmpty(0) || f.IsEmpty(i);
        }
        // FCOMI and friends leave C1 alone unless the stack underflows (StackFault clears it).
        if (!eflags) f.SetC1(false);
        int order;
        if (empty)
        {
            if (f.StackFault(overflow: false)) return;
            order = 2;
        }
        else
        {
            order = CompareOrder(f[0], src, quiet, denormal, ref ex);
            if (f.Signal(ex)) return;
        }
        if (eflags) SetArith(order switch { 0 => FlagZf, -1 => FlagCf, 1 => 0, _ => FlagZf | FlagPf | FlagCf });
        else f.SetC320(order is 0 or 2, order == 2, order is -1 or 2);
        for (int n = 0; n < pops; n++) f.Pop();
    }

    /// <summary>
    /// -1, 0, 1, or 2 for unordered (a NaN or an unsupported encoding, which also sets IE unless quiet applies). DE
    /// for a denormal operand (<paramref name="denormalOperand"/>: one from memory) when neither is a NaN.
    /// </summary>
    private static int CompareOrder(Float80 x, Float80 y, bool quiet, bool denormalOperand, ref X87Exceptions ex)
    {
        if (x.IsUnsupported || y.IsUnsupported || x.IsNaN || y.IsNaN)
        {
            if (!quiet || x.IsSignalingNaN || y.IsSignalingNaN || x.IsUnsupported || y.IsUnsupported) ex |= X87Exceptions.Invalid;
            return 2;
        }
        if (x.IsDenormal || y.IsDenormal || denormalOperand) ex |= X87Exceptions.Denormal;
        return Float80.Compare(x, y);
    }

    private static void Ftst(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        f.SetC1(false);
        var ex = X87Exceptions.None;
        int order;
        if (f.IsEmpty(0))
        {
            if (f.StackFault(overflow: false)) return;
            order = 2;
        }
        else
        {
            order = CompareOrder(f[0], Float80.Zero(negative: false), quiet: false, denormalOperand: false, ref ex);
            if (f.Signal(ex)) return;
        }
        f.SetC320(order is 0 or 2, order == 2, order is -1 or 2);
    }

    /// <summary>Classifies ST(0) into C3 C2 C0 and its sign into C1; never raises an exception.</summary>
    private static void Fxam(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        var x = f[0];
        f.SetC1(x.Negative);
        if (f.IsEmpty(0)) f.SetC320(true, false, true);
        else if (x.IsUnsupported) f.SetC320(false, false, false);
        else if (x.IsNaN) f.SetC320(false, false, true);
        else if (x.IsInfinity) f.SetC320(false, true, true);
        else if (x.IsZero) f.SetC320(true, false, false);
        else if (x.IsDenormal) f.SetC320(true, true, false);
        else f.SetC320(false, true, false);
    }

    private static void Fsin(InterpreterCpu c, ref DecodedOp d) => c.X87Unary(ref d, X87Function.Sin);
    private static void Fcos(InterpreterCpu c, ref DecodedOp d) => c.X87Unary(ref d, X87Function.Cos);
    private static void Fsincos(InterpreterCpu c, ref DecodedOp d) => c.X87Unary(ref d, X87Function.SinCos);
    private static void Fptan(InterpreterCpu c, ref DecodedOp d) => c.X87Unary(ref d, X87Function.Tan);
    private static void F2xm1(InterpreterCpu c, ref DecodedOp d) => c.X87Unary(ref d, X87Function.TwoToXMinusOne);
    private static void Fpatan(InterpreterCpu c, ref DecodedOp d) => c.X87BinaryFunction(ref d, X87Function.Atan);
    private static void Fyl2x(InterpreterCpu c, ref DecodedOp d) => c.X87BinaryFunction(ref d, X87Function.YLog2X);
    private static void Fyl2xp1(InterpreterCpu c, ref DecodedOp d) => c.X87BinaryFunction(ref d, X87Function.YLog2XPlusOne);

    /// <summary>
    /// FSIN FCOS FSINCOS FPTAN F2XM1, computed in double. FSINCOS pushes the cosine and FPTAN pushes 1.0 after
    /// replacing ST(0); the trigonometric ones leave ST(0) alone and set C2 when |ST(0)| is 2^63 or more.
    /// </summary>
    private void X87Unary(ref DecodedOp d, X87Function fn)
    {
        var f = FpuEnter(ref d);
        bool pushes = fn is X87Function.SinCos or X87Function.Tan;
        bool trig = fn != X87Function.TwoToXMinusOne;
        if (!St0Present(f)) return;
        if (pushes && !f.CanPush)
        {
            if (!f.StackFault(overflow: true)) f.Push(Float80.Indefinite);
            return;
        }
        var x = f[0];
        var ex = X87Exceptions.None;
        Float80 r, second = Float80.One;
        if (NaNResult(x, ref ex) is { } nan) r = second = nan;
        else if (trig && x.IsInfinity)
        {
            ex |= X87Exceptions.Invalid;
            r = second = Float80.Indefinite;
        }
        else if (trig && !x.IsZero && x.Normalized().Exponent >= 63)
        {
            f.SetC2(true);
            return;
        }
        else
        {
            double a = x.ToDouble();
            double v = fn switch
            {
                X87Function.Sin or X87Function.SinCos => Math.Sin(a),
                X87Function.Cos => Math.Cos(a),
                X87Function.Tan => Math.Tan(a),
                _ => TwoToXMinusOne(a),
            };
            if (fn == X87Function.SinCos) second = Float80.FromDouble(Math.Cos(a));
            if (!x.IsZero) ex |= X87Exceptions.Precision;
            r = Float80.FromDouble(v);
        }
        if (f.Signal(ex)) return;
        if (trig) f.SetC2(false);
        f.Set(0, r);
        if (pushes) f.Push(second);
    }

    /// <summary>2^x - 1 without losing the small results (expm1 by the log trick; .NET has no expm1).</summary>
    private static double TwoToXMinusOne(double x)
    {
        if (double.IsInfinity(x)) return x > 0 ? x : -1;
        double y = x * Math.Log(2);
        double u = Math.Exp(y);
        if (u == 1) return y;
        double um1 = u - 1;
        return um1 == -1 ? -1 : um1 * y / Math.Log(u);
    }

    /// <summary>log2(1 + x) without losing small x (log1p by the same trick).</summary>
    private static double Log2OnePlus(double x)
    {
        double u = 1 + x;
        double ln = u == 1 ? x : Math.Log(u) * x / (u - 1);
        return ln / Math.Log(2);
    }

    /// <summary>FPATAN (ST(1) = atan2(ST(1), ST(0))), FYL2X (ST(1) × log2 ST(0)) and FYL2XP1 (ST(1) × log2(ST(0)+1)), then pop.</summary>
    private void X87BinaryFunction(ref DecodedOp d, X87Function fn)
    {
        var f = FpuEnter(ref d);
        if (!St01Present(f, 1, pop: true)) return;
        var ex = X87Exceptions.None;
        Float80 x = f[0], y = f[1], r;
        if (NaNResult(y, x, ref ex) is { } nan) r = nan;
        else
        {
            double a = x.ToDouble(), b = y.ToDouble();
            if (fn == X87Function.YLog2X && a == 0 && b != 0 && double.IsFinite(b)) ex |= X87Exceptions.ZeroDivide;
            double v = fn switch
            {
                X87Function.Atan => Math.Atan2(b, a),
                X87Function.YLog2X => b * Math.Log2(a),
                _ => b * Log2OnePlus(a),
            };
            if (double.IsNaN(v))
            {
                ex |= X87Exceptions.Invalid;
                r = Float80.Indefinite;
            }
            else
            {
                if (v != 0 && double.IsFinite(v)) ex |= X87Exceptions.Precision;
                r = Float80.FromDouble(v);
            }
        }
        if (f.Signal(ex)) return;
        f.Set(1, r);
        f.Pop();
    }
}
