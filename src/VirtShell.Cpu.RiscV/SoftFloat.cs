namespace VirtShell.Cpu.RiscV;

/// <summary>
/// IEEE 754 binary32 and binary64 arithmetic in integers, rounded in any of the five RISC-V rounding modes with its
/// exception flags. .NET's arithmetic rounds to nearest-even only and reports no flags, so every operation here first
/// forms its exact result (or enough bits of it and a sticky bit) as an integer significand and a power of two, and one
/// routine (<see cref="Round"/>) rounds that to the format. Tininess is detected after rounding, as RISC-V specifies.
/// NaN results are the format's canonical NaN.
/// </summary>
internal static class SoftFloat
{
    public const uint Inexact = 1, Underflow = 2, Overflow = 4, DivideByZero = 8, Invalid = 16;

    /// <summary>The rm encodings: RNE, RTZ, RDN, RUP, RMM.</summary>
    public enum Rounding { NearestEven, TowardZero, Down, Up, NearestMaxMagnitude }

    public readonly record struct Format(int ExponentBits, int FractionBits)
    {
        public int Bias => (1 << (ExponentBits - 1)) - 1;
        /// <summary>The unbiased exponent of the smallest normal number.</summary>
        public int MinExponent => 1 - Bias;
        public int MaxBiased => (1 << ExponentBits) - 1;
        public ulong SignBit => 1UL << (ExponentBits + FractionBits);
        public ulong FractionMask => (1UL << FractionBits) - 1;
        public ulong Zero(bool negative) => negative ? SignBit : 0;
        public ulong Infinity(bool negative) => Zero(negative) | ((ulong)MaxBiased << FractionBits);
        public ulong MaxFinite(bool negative) => Infinity(negative) - 1;
        public ulong CanonicalNan => ((ulong)MaxBiased << FractionBits) | (1UL << (FractionBits - 1));
    }

    public static readonly Format Binary32 = new(8, 23), Binary64 = new(11, 52);

    private enum Kind { Zero, Finite, Infinity, QuietNan, SignalingNan }

    /// <summary>A finite value is Significand · 2^Exponent.</summary>
    private readonly record struct Value(Kind Kind, bool Negative, UInt128 Significand, int Exponent)
    {
        public bool IsNan => Kind is Kind.QuietNan or Kind.SignalingNan;
    }

    private static Value Unpack(ulong bits, Format f)
    {
        bool negative = (bits & f.SignBit) != 0;
        int biased = (int)((bits >> f.FractionBits) & (ulong)f.MaxBiased);
        ulong fraction = bits & f.FractionMask;
        if (biased == f.MaxBiased)
        {
            Kind kind = fraction == 0 ? Kind.Infinity : (fraction >> (f.FractionBits - 1)) != 0 ? Kind.QuietNan : Kind.SignalingNan;
            return new(kind, negative, 0, 0);
        }
        if (biased == 0)
            return fraction == 0 ? new(Kind.Zero, negative, 0, 0) : new(Kind.Finite, negative, fraction, f.MinExponent - f.FractionBits);
        return new(Kind.Finite, negative, fraction | (1UL << f.FractionBits), biased - f.Bias - f.FractionBits);
    }

    private static int BitLength(UInt128 x) => 128 - (int)UInt128.LeadingZeroCount(x);

    private static ulong Nan(Format f, ref uint flags, params ReadOnlySpan<Value> operands)
    {
        foreach (Value v in operands)
            if (v.Kind == Kind.SignalingNan) flags |= Invalid;
        return f.CanonicalNan;
    }

    private static ulong InvalidOperation(Format f, ref uint flags)
    {
        flags |= Invalid;
        return f.CanonicalNan;
    }

    /// <summary>Drops the low <paramref name="shift"/> bits of a magnitude, rounding in rm; whether anything was dropped.</summary>
    private static (UInt128 Kept, bool Inexact) RoundAt(UInt128 significand, int shift, bool negative, Rounding rm)
    {
        if (shift <= 0) return (significand << -shift, false);
        UInt128 kept = shift >= 128 ? 0 : significand >> shift;
        UInt128 rest = shift >= 128 ? significand : significand & ((UInt128.One << shift) - 1);
        if (rest == 0) return (kept, false);
        int toHalf = shift > 128 ? -1 : rest.CompareTo(UInt128.One << (shift - 1));
        bool up = rm switch
        {
            Rounding.NearestEven => toHalf > 0 || (toHalf == 0 && (kept & 1) != 0),
            Rounding.NearestMaxMagnitude => toHalf >= 0,
            Rounding.TowardZero => false,
            Rounding.Down => negative,
            _ => !negative,
        };
        return (up ? kept + 1 : kept, true);
    }

    /// <summary>
    /// Rounds ±(significand + sticky) · 2^exponent to f, where sticky means "and a nonzero fraction of 2^exponent"; the
    /// caller gives at least two bits below the format's precision. Adds NX, UF and OF to flags.
    /// </summary>
    private static ulong Round(bool negative, UInt128 significand, int exponent, bool sticky, Format f, Rounding rm, ref uint flags)
    {
        if (sticky)
        {
            // A half in place of "some fraction" rounds the same way at any rounding point above 2^exponent.
            significand = (significand << 1) | 1;
            exponent--;
        }
        int top = exponent + BitLength(significand) - 1;
        int quantum = Math.Max(top, f.MinExponent) - f.FractionBits;
        (UInt128 kept, bool inexact) = RoundAt(significand, quantum - exponent, negative, rm);
        bool tiny = top < f.MinExponent;
        if (tiny && inexact && top == f.MinExponent - 1)
        {
            // Tiny means below the smallest normal after rounding to full precision with an unbounded exponent.
            (UInt128 unbounded, _) = RoundAt(significand, top - f.FractionBits - exponent, negative, rm);
            tiny = unbounded >> (f.FractionBits + 1) == 0;
        }
        if (kept >> (f.FractionBits + 1) != 0)
        {
            kept >>= 1; // rounded up into the next binade: the dropped bit is zero
            quantum++;
        }
        if (inexact) flags |= Inexact;
        if (tiny && inexact) flags |= Underflow;
        int biased = kept >> f.FractionBits == 0 ? 0 : quantum + f.FractionBits + f.Bias;
        if (biased >= f.MaxBiased)
        {
            flags |= Overflow | Inexact;
            bool toInfinity = rm switch
            {
                Rounding.TowardZero => false,
                Rounding.Down => negative,
                Rounding.Up => !negative,
                _ => true,
            };
            return toInfinity ? f.Infinity(negative) : f.MaxFinite(negative);
        }
        return f.Zero(negative) | ((ulong)biased << f.FractionBits) | ((ulong)kept & f.FractionMask);
    }

    public static ulong Add(ulong a, ulong b, Format f, Rounding rm, ref uint flags)
    {
        Value x = Unpack(a, f), y = Unpack(b, f);
        if (x.IsNan || y.IsNan) return Nan(f, ref flags, x, y);
        if (x.Kind == Kind.Infinity || y.Kind == Kind.Infinity)
        {
            if (x.Kind == y.Kind && x.Negative != y.Negative) return InvalidOperation(f, ref flags);
            return x.Kind == Kind.Infinity ? a : b;
        }
        return Sum(x, y, f, rm, ref flags);
    }

    public static ulong Subtract(ulong a, ulong b, Format f, Rounding rm, ref uint flags) => Add(a, b ^ f.SignBit, f, rm, ref flags);

    /// <summary>x + y for zeros and finite values; x may carry a double-width significand (a product).</summary>
    private static ulong Sum(Value x, Value y, Format f, Rounding rm, ref uint flags)
    {
        if (x.Kind == Kind.Zero && y.Kind == Kind.Zero)
            return f.Zero(x.Negative == y.Negative ? x.Negative : rm == Rounding.Down);
        if (y.Kind == Kind.Zero) return Round(x.Negative, x.Significand, x.Exponent, false, f, rm, ref flags);
        if (x.Kind == Kind.Zero) return Round(y.Negative, y.Significand, y.Exponent, false, f, rm, ref flags);
        if (y.Exponent + BitLength(y.Significand) > x.Exponent + BitLength(x.Significand)) (x, y) = (y, x);
        // x's leading bit goes to bit 125, y is aligned to it; what y loses below 2^-125 of x only decides the rounding.
        int shift = 126 - BitLength(x.Significand);
        UInt128 big = x.Significand << shift;
        int exponent = x.Exponent - shift;
        int offset = y.Exponent - exponent;
        UInt128 small;
        bool sticky;
        if (offset >= 0)
        {
            small = y.Significand << offset;
            sticky = false;
        }
        else if (offset > -128)
        {
            small = y.Significand >> -offset;
            sticky = (small << -offset) != y.Significand;
        }
        else
        {
            small = 0;
            sticky = true;
        }
        if (x.Negative == y.Negative) return Round(x.Negative, big + small, exponent, sticky, f, rm, ref flags);
        if (big == small && !sticky) return f.Zero(rm == Rounding.Down);
        if (big < small) return Round(y.Negative, small - big, exponent, false, f, rm, ref flags);
        // x - (small + fraction) = (x - small - 1) + (1 - fraction)
        return Round(x.Negative, big - small - (sticky ? UInt128.One : 0), exponent, sticky, f, rm, ref flags);
    }

    public static ulong Multiply(ulong a, ulong b, Format f, Rounding rm, ref uint flags)
    {
        Value x = Unpack(a, f), y = Unpack(b, f);
        if (x.IsNan || y.IsNan) return Nan(f, ref flags, x, y);
        bool negative = x.Negative != y.Negative;
        if (x.Kind == Kind.Infinity || y.Kind == Kind.Infinity)
            return x.Kind == Kind.Zero || y.Kind == Kind.Zero ? InvalidOperation(f, ref flags) : f.Infinity(negative);
        if (x.Kind == Kind.Zero || y.Kind == Kind.Zero) return f.Zero(negative);
        return Round(negative, x.Significand * y.Significand, x.Exponent + y.Exponent, false, f, rm, ref flags);
    }

    public static ulong Divide(ulong a, ulong b, Format f, Rounding rm, ref uint flags)
    {
        Value x = Unpack(a, f), y = Unpack(b, f);
        if (x.IsNan || y.IsNan) return Nan(f, ref flags, x, y);
        bool negative = x.Negative != y.Negative;
        if (x.Kind == Kind.Infinity) return y.Kind == Kind.Infinity ? InvalidOperation(f, ref flags) : f.Infinity(negative);
        if (y.Kind == Kind.Infinity) return f.Zero(negative);
        if (y.Kind == Kind.Zero)
        {
            if (x.Kind == Kind.Zero) return InvalidOperation(f, ref flags);
            flags |= DivideByZero;
            return f.Infinity(negative);
        }
        if (x.Kind == Kind.Zero) return f.Zero(negative);
        // The dividend's leading bit at 126 leaves at least 73 quotient bits; the remainder is the sticky bit.
        int shift = 127 - BitLength(x.Significand);
        (UInt128 quotient, UInt128 remainder) = UInt128.DivRem(x.Significand << shift, y.Significand);
        return Round(negative, quotient, x.Exponent - y.Exponent - shift, remainder != 0, f, rm, ref flags);
    }

    public static ulong SquareRoot(ulong a, Format f, Rounding rm, ref uint flags)
    {
        Value x = Unpack(a, f);
        if (x.IsNan) return Nan(f, ref flags, x);
        if (x.Kind == Kind.Zero) return a;
        if (x.Negative) return InvalidOperation(f, ref flags);
        if (x.Kind == Kind.Infinity) return a;
        int shift = 126 - BitLength(x.Significand);
        if (((x.Exponent - shift) & 1) != 0) shift++;
        (UInt128 root, bool inexact) = IntegerSquareRoot(x.Significand << shift);
        return Round(false, root, (x.Exponent - shift) / 2, inexact, f, rm, ref flags);
    }

    /// <summary>The floor of √n, digit by digit, and whether it was inexact.</summary>
    private static (UInt128 Root, bool Inexact) IntegerSquareRoot(UInt128 n)
    {
        UInt128 root = 0, bit = UInt128.One << 126;
        while (bit > n) bit >>= 2;
        while (bit != 0)
        {
            if (n >= root + bit)
            {
                n -= root + bit;
                root = (root >> 1) + bit;
            }
            else root >>= 1;
            bit >>= 2;
        }
        return (root, n != 0);
    }

    /// <summary>±(a·b) ± c with one rounding (FMADD, FMSUB, FNMSUB, FNMADD).</summary>
    public static ulong MultiplyAdd(ulong a, ulong b, ulong c, bool negateProduct, bool negateAddend, Format f, Rounding rm, ref uint flags)
    {
        Value x = Unpack(a, f), y = Unpack(b, f), z = Unpack(c, f);
        // ∞·0 is invalid even when the addend is a quiet NaN.
        bool invalidProduct = (x.Kind == Kind.Infinity && y.Kind == Kind.Zero) || (x.Kind == Kind.Zero && y.Kind == Kind.Infinity);
        if (x.IsNan || y.IsNan || z.IsNan)
        {
            if (invalidProduct) flags |= Invalid;
            return Nan(f, ref flags, x, y, z);
        }
        if (invalidProduct) return InvalidOperation(f, ref flags);
        bool productNegative = (x.Negative != y.Negative) != negateProduct, addendNegative = z.Negative != negateAddend;
        if (x.Kind == Kind.Infinity || y.Kind == Kind.Infinity)
        {
            if (z.Kind == Kind.Infinity && addendNegative != productNegative) return InvalidOperation(f, ref flags);
            return f.Infinity(productNegative);
        }
        if (z.Kind == Kind.Infinity) return f.Infinity(addendNegative);
        Value product = x.Kind == Kind.Zero || y.Kind == Kind.Zero
            ? new(Kind.Zero, productNegative, 0, 0)
            : new(Kind.Finite, productNegative, x.Significand * y.Significand, x.Exponent + y.Exponent);
        return Sum(product, z with { Negative = addendNegative }, f, rm, ref flags);
    }

    /// <summary>FCVT between the two formats.</summary>
    public static ulong Convert(ulong bits, Format from, Format to, Rounding rm, ref uint flags)
    {
        Value x = Unpack(bits, from);
        return x.Kind switch
        {
            Kind.QuietNan or Kind.SignalingNan => Nan(to, ref flags, x),
            Kind.Infinity => to.Infinity(x.Negative),
            Kind.Zero => to.Zero(x.Negative),
            _ => Round(x.Negative, x.Significand, x.Exponent, false, to, rm, ref flags),
        };
    }

    /// <summary>FCVT.S/D from an integer, given as its magnitude and sign.</summary>
    public static ulong FromInteger(ulong magnitude, bool negative, Format f, Rounding rm, ref uint flags) =>
        magnitude == 0 ? f.Zero(false) : Round(negative, magnitude, 0, false, f, rm, ref flags);

    /// <summary>
    /// FCVT to a <paramref name="width"/>-bit integer, rounded in rm. Out of range, infinite or NaN is NV and saturates (a
    /// NaN to the largest value); the result is the integer's low bits, for the caller to sign-extend.
    /// </summary>
    public static ulong ToInteger(ulong bits, Format f, int width, bool signed, Rounding rm, ref uint flags)
    {
        Value x = Unpack(bits, f);
        ulong largest = signed ? (1UL << (width - 1)) - 1 : ulong.MaxValue >> (64 - width);
        UInt128 mostNegative = signed ? UInt128.One << (width - 1) : 0;
        ulong smallest = (ulong)(0 - mostNegative);
        if (x.IsNan)
        {
            flags |= Invalid;
            return largest;
        }
        if (x.Kind == Kind.Zero) return 0;
        UInt128 magnitude;
        bool inexact = false;
        if (x.Kind == Kind.Infinity || x.Exponent + BitLength(x.Significand) > 65) magnitude = UInt128.MaxValue;
        else (magnitude, inexact) = RoundAt(x.Significand, -x.Exponent, x.Negative, rm);
        if (x.Negative ? magnitude > mostNegative : magnitude > largest)
        {
            flags |= Invalid;
            return x.Negative ? smallest : largest;
        }
        if (inexact) flags |= Inexact;
        return x.Negative ? 0 - (ulong)magnitude : (ulong)magnitude;
    }
}
