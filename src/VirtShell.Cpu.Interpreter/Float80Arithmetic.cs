using System.Numerics;

namespace VirtShell.Cpu.Interpreter;

// Exact + − × ÷ √ on finite 80-bit values (zeros and denormals included; NaNs, infinities and unsupported encodings
// are the caller's), each rounded once to the precision control's 24, 53 or 64 bits under the rounding control,
// within the 80-bit format's exponent range, as the x87 does. Sums and products are exact in 128 bits; quotients
// and square roots carry two extra bits and a sticky bit.
internal readonly partial struct Float80
{
    /// <summary>a + b.</summary>
    public static Float80 Add(Float80 a, Float80 b, int precision, X87Rounding rc, ref X87Exceptions ex, out bool up)
    {
        up = false;
        if (a.IsZero && b.IsZero)
            return Zero(a.Negative == b.Negative ? a.Negative : rc == X87Rounding.Down);
        if (b.IsZero) (a, b) = (b, a);
        if (a.IsZero) return Round(b.Negative, b.Normalized().Exponent - 63, b.Normalized().Significand, false, precision, rc, ref ex, out up);
        var (ea, sa) = a.Normalized();
        var (eb, sb) = b.Normalized();
        bool negative = a.Negative;
        if (eb > ea || (eb == ea && sb > sa))
        {
            (ea, sa, eb, sb) = (eb, sb, ea, sa);
            negative = b.Negative;
        }
        // The larger operand's significand at bits 126-63 leaves a bit for the carry; the smaller one is shifted right
        // by the exponent difference, what falls off kept as a sticky bit.
        UInt128 big = (UInt128)sa << 63, small = (UInt128)sb << 63;
        int shift = ea - eb;
        bool sticky = false;
        if (shift >= 128)
        {
            sticky = true;
            small = 0;
        }
        else if (shift > 0)
        {
            sticky = (small & ((UInt128.One << shift) - 1)) != 0;
            small >>= shift;
        }
        UInt128 sum;
        if (a.Negative == b.Negative) sum = big + small;
        else
        {
            // The bits below the sticky position are a positive amount less than one unit: subtracting them takes one
            // unit off and leaves a remainder that is still inexact.
            sum = big - small - (sticky ? UInt128.One : UInt128.Zero);
            if (sum == 0 && !sticky) return Zero(rc == X87Rounding.Down);
        }
        return Round(negative, ea - 126, sum, sticky, precision, rc, ref ex, out up);
    }

    /// <summary>a × b.</summary>
    public static Float80 Multiply(Float80 a, Float80 b, int precision, X87Rounding rc, ref X87Exceptions ex, out bool up)
    {
        up = false;
        bool negative = a.Negative != b.Negative;
        if (a.IsZero || b.IsZero) return Zero(negative);
        var (ea, sa) = a.Normalized();
        var (eb, sb) = b.Normalized();
        return Round(negative, ea + eb - 126, (UInt128)sa * sb, false, precision, rc, ref ex, out up);
    }

    /// <summary>a ÷ b, b not zero.</summary>
    public static Float80 Divide(Float80 a, Float80 b, int precision, X87Rounding rc, ref X87Exceptions ex, out bool up)
    {
        up = false;
        bool negative = a.Negative != b.Negative;
        if (a.IsZero) return Zero(negative);
        var (ea, sa) = a.Normalized();
        var (eb, sb) = b.Normalized();
        // sa·2^64 / sb has 64 or 65 bits; one more step of long division gives the guard bit.
        UInt128 num = (UInt128)sa << 64;
        UInt128 q = num / sb, rem = num % sb;
        q <<= 1;
        rem <<= 1;
        if (rem >= sb)
        {
            q |= 1;
            rem -= sb;
        }
        return Round(negative, ea - eb - 65, q, rem != 0, precision, rc, ref ex, out up);
    }

    /// <summary>√a, a positive and not zero.</summary>
    public static Float80 SquareRoot(Float80 a, int precision, X87Rounding rc, ref X87Exceptions ex, out bool up)
    {
        var (e, s) = a.Normalized();
        // a = s·2^(e-63); scale to an even power of two so the root of the integer part is exact to 96 bits.
        int scale = e - 63 - 128;
        var m = new BigInteger(s) << 128;
        if ((scale & 1) != 0)
        {
            m <<= 1;
            scale--;
        }
        var root = IntegerSquareRoot(m);
        return Round(false, scale / 2, (UInt128)root, root * root != m, precision, rc, ref ex, out up);
    }

    private static BigInteger IntegerSquareRoot(BigInteger n)
    {
        // Newton's iteration from the double estimate, which is good to 50 bits: two steps reach 96 bits.
        var x = (BigInteger)Math.Sqrt((double)n);
        for (int i = 0; i < 3 && x > 0; i++) x = (x + n / x) >> 1;
        while (x * x > n) x--;
        while ((x + 1) * (x + 1) <= n) x++;
        return x;
    }

    /// <summary>
    /// Rounds sig·2^exp2 (plus a positive amount below its last bit when <paramref name="sticky"/>) to
    /// <paramref name="precision"/> bits: OE and the masked overflow response past the largest exponent, a denormal
    /// result (rounded at the same bit of the significand field), PE, and whether the magnitude was rounded up. UE
    /// needs a tiny result — tininess is judged after rounding, as if the exponent were unbounded — that is inexact.
    /// </summary>
    private static Float80 Round(bool negative, int exp2, UInt128 sig, bool sticky, int precision, X87Rounding rc, ref X87Exceptions ex, out bool up)
    {
        ushort sign = negative ? (ushort)0x8000 : (ushort)0;
        up = false;
        if (sig == 0) return new Float80(0, sign);
        int lz = (int)UInt128.LeadingZeroCount(sig);
        sig <<= lz;
        int biased = exp2 - lz + 127 + Bias;
        int normalShift = 128 - precision;
        var kept = RoundAt(sig, sticky, normalShift + (biased >= 1 ? 0 : 1 - biased), negative, rc, out bool inexact, out up);
        if (inexact) ex |= X87Exceptions.Precision;
        if (biased < 1)
        {
            bool tiny = biased < 0 || RoundAt(sig, sticky, normalShift, negative, rc, out _, out _) >> precision == 0;
            if (inexact && tiny) ex |= X87Exceptions.Underflow;
            ulong field = (ulong)kept << (64 - precision);
            return new Float80(field, (ushort)(sign | ((field & IntegerBit) != 0 ? 1 : 0)));
        }
        if (kept >> precision != 0)
        {
            kept >>= 1;
            biased++;
        }
        if (biased >= MaxExponent)
        {
            ex |= X87Exceptions.Overflow | X87Exceptions.Precision;
            up = OverflowsToInfinity(negative, rc);
            return up ? Infinity(negative) : new Float80(ulong.MaxValue << (64 - precision), (ushort)(sign | (MaxExponent - 1)));
        }
        return new Float80((ulong)kept << (64 - precision), (ushort)(sign | biased));
    }

    /// <summary><paramref name="sig"/> (and the sticky remainder) shifted right by <paramref name="shift"/> bits, rounded under <paramref name="rc"/>.</summary>
    private static UInt128 RoundAt(UInt128 sig, bool sticky, int shift, bool negative, X87Rounding rc, out bool inexact, out bool up)
    {
        UInt128 kept = shift >= 128 ? 0 : sig >> shift;
        UInt128 rest = shift >= 128 ? sig : sig & ((UInt128.One << shift) - 1);
        inexact = rest != 0 || sticky;
        int vsHalf = shift > 128 ? -1 : rest != UInt128.One << (shift - 1) ? rest.CompareTo(UInt128.One << (shift - 1)) : sticky ? 1 : 0;
        up = rc switch
        {
            X87Rounding.Nearest => vsHalf > 0 || (vsHalf == 0 && (kept & 1) != 0),
            X87Rounding.Down => inexact && negative,
            X87Rounding.Up => inexact && !negative,
            _ => false,
        };
        return up ? kept + 1 : kept;
    }
}
