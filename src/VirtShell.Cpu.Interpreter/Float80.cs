using System.Numerics;

namespace VirtShell.Cpu.Interpreter;

/// <summary>x87 rounding control, control-word bits 10-11.</summary>
internal enum X87Rounding { Nearest = 0, Down = 1, Up = 2, Zero = 3 }

/// <summary>x87 exception flags in status-word bit order (SF is the stack-fault qualifier of IE).</summary>
[Flags]
internal enum X87Exceptions : ushort
{
    None = 0, Invalid = 1, Denormal = 2, ZeroDivide = 4, Overflow = 8, Underflow = 0x10, Precision = 0x20, StackFault = 0x40,
}

/// <summary>
/// An x87 register value in the 80-bit extended format: a 64-bit significand with an explicit integer bit (J, bit 63)
/// and a sign bit over a 15-bit exponent biased by 16383. Conversions to and from memory formats and integers are
/// exact or rounded under the caller's rounding control; + − × ÷ √ are in Float80Arithmetic.cs.
/// </summary>
internal readonly partial struct Float80(ulong significand, ushort signExponent)
{
    private const int Bias = 16383, MaxExponent = 0x7FFF;
    private const ulong IntegerBit = 1UL << 63, QuietBit = 1UL << 62;

    public readonly ulong Significand = significand;
    public readonly ushort SignExponent = signExponent;

    /// <summary>The "real indefinite" QNaN every masked invalid operation produces.</summary>
    public static readonly Float80 Indefinite = new(0xC000_0000_0000_0000, 0xFFFF);
    public static readonly Float80 One = new(IntegerBit, Bias);

    public static Float80 Zero(bool negative) => new(0, negative ? (ushort)0x8000 : (ushort)0);
    public static Float80 Infinity(bool negative) => new(IntegerBit, (ushort)(negative ? 0xFFFF : MaxExponent));

    public bool Negative => (SignExponent & 0x8000) != 0;
    public int Exponent => SignExponent & MaxExponent;
    public bool IsZero => Exponent == 0 && Significand == 0;
    public bool IsDenormal => Exponent == 0 && Significand != 0;
    public bool IsInfinity => Exponent == MaxExponent && Significand == IntegerBit;
    public bool IsNaN => Exponent == MaxExponent && (Significand & IntegerBit) != 0 && (Significand << 1) != 0;
    public bool IsSignalingNaN => IsNaN && (Significand & QuietBit) == 0;
    /// <summary>Unnormals, pseudo-NaNs and pseudo-infinities (J clear with a non-zero exponent): the 387 and later reject them.</summary>
    public bool IsUnsupported => Exponent != 0 && (Significand & IntegerBit) == 0;
    public bool IsFinite => Exponent != MaxExponent && !IsUnsupported;

    /// <summary>The same value with a pseudo-denormal (exponent 0, J set) in its canonical encoding, exponent 1.</summary>
    public Float80 Canonical() => IsDenormal && (Significand & IntegerBit) != 0 ? new(Significand, (ushort)(SignExponent | 1)) : this;

    public Float80 Negate() => new(Significand, (ushort)(SignExponent ^ 0x8000));
    public Float80 Abs() => new(Significand, (ushort)(SignExponent & MaxExponent));
    public Float80 Quiet() => new(Significand | QuietBit, SignExponent);

    /// <summary>Tag-word class: 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unsupported).</summary>
    public int Tag => IsZero ? 1 : Exponent == 0 || Exponent == MaxExponent || IsUnsupported ? 2 : 0;

    /// <summary>Unbiased exponent and significand shifted so that J is set; only for finite non-zero values.</summary>
    public (int Exponent, ulong Significand) Normalized()
    {
        if (Exponent != 0) return (Exponent - Bias, Significand);
        int shift = BitOperations.LeadingZeroCount(Significand);
        return (1 - Bias - shift, Significand << shift);
    }

    /// <summary>
    /// Builds sign × <paramref name="significand"/> × 2^(<paramref name="exponent"/> - 63), rounding to the 80-bit
    /// format's range under <paramref name="rc"/> (denormal results lose low bits; too large becomes infinity);
    /// <paramref name="up"/> tells whether the magnitude was rounded up.
    /// </summary>
    public static Float80 FromParts(bool negative, int exponent, ulong significand, X87Rounding rc, ref X87Exceptions ex, out bool up)
    {
        up = false;
        ushort sign = negative ? (ushort)0x8000 : (ushort)0;
        if (significand == 0) return new Float80(0, sign);
        int shift = BitOperations.LeadingZeroCount(significand);
        significand <<= shift;
        int biased = exponent - shift + Bias;
        if (biased >= MaxExponent)
        {
            ex |= X87Exceptions.Overflow | X87Exceptions.Precision;
            up = OverflowsToInfinity(negative, rc);
            return up ? Infinity(negative) : new Float80(ulong.MaxValue, (ushort)(sign | (MaxExponent - 1)));
        }
        if (biased > 0) return new Float80(significand, (ushort)(sign | biased));
        ulong kept = RoundShift(significand, 1 - biased, rc, negative, out bool inexact, out up);
        if (inexact) ex |= X87Exceptions.Underflow | X87Exceptions.Precision;
        // Rounding up the largest denormal sets J: that is the smallest normal, exponent 1.
        return new Float80(kept, (ushort)(sign | ((kept & IntegerBit) != 0 ? 1 : 0)));
    }

    private static bool OverflowsToInfinity(bool negative, X87Rounding rc) =>
        rc == X87Rounding.Nearest || (rc == X87Rounding.Up && !negative) || (rc == X87Rounding.Down && negative);

    /// <summary>
    /// <paramref name="value"/> shifted right by <paramref name="shift"/> bits and rounded under <paramref name="rc"/>;
    /// <paramref name="up"/> tells whether the magnitude was rounded up.
    /// </summary>
    public static ulong RoundShift(ulong value, int shift, X87Rounding rc, bool negative, out bool inexact, out bool up)
    {
        if (shift <= 0)
        {
            inexact = up = false;
            return value;
        }
        return (ulong)RoundAt(value, sticky: false, shift, negative, rc, out inexact, out up);
    }

    /// <summary>
    /// Reads an IEEE binary32/binary64 value (<paramref name="fracBits"/> 23 or 52) exactly. A signalling NaN stays
    /// signalling here; arithmetic reports it. Denormal inputs set DE.
    /// </summary>
    public static Float80 FromBinary(ulong bits, int fracBits, int expBits, ref X87Exceptions ex)
    {
        int maxExp = (1 << expBits) - 1, bias = maxExp >> 1;
        bool negative = ((bits >> (fracBits + expBits)) & 1) != 0;
        ushort sign = negative ? (ushort)0x8000 : (ushort)0;
        int e = (int)((bits >> fracBits) & (uint)maxExp);
        ulong frac = bits & ((1UL << fracBits) - 1);
        if (e == maxExp) return new Float80(IntegerBit | (frac << (63 - fracBits)), (ushort)(sign | MaxExponent));
        if (e == 0)
        {
            if (frac == 0) return new Float80(0, sign);
            ex |= X87Exceptions.Denormal;
            int lz = BitOperations.LeadingZeroCount(frac);
            return new Float80(frac << lz, (ushort)(sign | (63 - lz + 1 - bias - fracBits + Bias)));
        }
        return new Float80(IntegerBit | (frac << (63 - fracBits)), (ushort)(sign | (e - bias + Bias)));
    }

    public static Float80 FromDouble(double d)
    {
        var ignored = X87Exceptions.None;
        return FromBinary((ulong)BitConverter.DoubleToInt64Bits(d), 52, 11, ref ignored);
    }

    public static Float80 FromInteger(long v) => FromMagnitude(v < 0, v < 0 ? (ulong)-v : (ulong)v);

    /// <summary>An integer given by sign and magnitude, exactly (64 significand bits hold any 64-bit integer).</summary>
    public static Float80 FromMagnitude(bool negative, ulong magnitude)
    {
        ushort sign = negative ? (ushort)0x8000 : (ushort)0;
        if (magnitude == 0) return new Float80(0, sign);
        int lz = BitOperations.LeadingZeroCount(magnitude);
        return new Float80(magnitude << lz, (ushort)(sign | (63 - lz + Bias)));
    }

    /// <summary>
    /// Rounds to IEEE binary32/binary64 under <paramref name="rc"/>, setting IE (signalling NaN, unsupported),
    /// OE, UE and PE as a store to memory does.
    /// </summary>
    public ulong ToBinary(int fracBits, int expBits, X87Rounding rc, ref X87Exceptions ex, out bool roundedUp)
    {
        roundedUp = false;
        int maxExp = (1 << expBits) - 1, bias = maxExp >> 1;
        ulong fracMask = (1UL << fracBits) - 1;
        ulong sign = Negative ? 1UL << (fracBits + expBits) : 0;
        ulong infinity = (ulong)maxExp << fracBits;
        if (IsUnsupported)
        {
            ex |= X87Exceptions.Invalid;
            return (1UL << (fracBits + expBits)) | infinity | (1UL << (fracBits - 1));
        }
        if (Exponent == MaxExponent)
        {
            if (Significand == IntegerBit) return sign | infinity;
            if (IsSignalingNaN) ex |= X87Exceptions.Invalid;
            return sign | infinity | ((Significand >> (63 - fracBits)) & fracMask) | (1UL << (fracBits - 1));
        }
        if (IsZero) return sign;
        var (e, sig) = Normalized();
        int biased = e + bias;
        ulong result;
        bool inexact;
        if (biased >= 1)
        {
            // The integer bit lands on the exponent field's low bit, so a carry out of rounding bumps the exponent.
            ulong mant = RoundShift(sig, 63 - fracBits, rc, Negative, out inexact, out roundedUp);
            result = biased >= maxExp ? infinity : ((ulong)(biased - 1) << fracBits) + mant;
            if (result >= infinity)
            {
                ex |= X87Exceptions.Overflow | X87Exceptions.Precision;
                roundedUp = OverflowsToInfinity(Negative, rc);
                return sign | (roundedUp ? infinity : infinity - 1);
            }
        }
        else
        {
            result = RoundShift(sig, Math.Min(63 - fracBits + 1 - biased, 65), rc, Negative, out inexact, out roundedUp);
            if (inexact) ex |= X87Exceptions.Underflow;
        }
        if (inexact) ex |= X87Exceptions.Precision;
        return sign | result;
    }

    /// <summary>The nearest double (the transcendental functions compute in double precision).</summary>
    public double ToDouble()
    {
        var ignored = X87Exceptions.None;
        return BitConverter.Int64BitsToDouble((long)ToBinary(52, 11, X87Rounding.Nearest, ref ignored, out _));
    }

    /// <summary>
    /// Rounds to an integer of <paramref name="bits"/> bits under <paramref name="rc"/>; null (with IE) for NaN,
    /// infinity, unsupported formats and values out of range.
    /// </summary>
    public long? ToInteger(int bits, X87Rounding rc, ref X87Exceptions ex, out bool roundedUp)
    {
        roundedUp = false;
        if (!IsFinite)
        {
            ex |= X87Exceptions.Invalid;
            return null;
        }
        if (IsZero) return 0;
        var (e, sig) = Normalized();
        if (e > 63)
        {
            ex |= X87Exceptions.Invalid;
            return null;
        }
        ulong magnitude = RoundShift(sig, 63 - e, rc, Negative, out bool inexact, out roundedUp);
        ulong limit = 1UL << (bits - 1);
        if (Negative ? magnitude > limit : magnitude >= limit)
        {
            ex |= X87Exceptions.Invalid;
            roundedUp = false;
            return null;
        }
        if (inexact) ex |= X87Exceptions.Precision;
        return Negative ? unchecked(-(long)magnitude) : (long)magnitude;
    }

    /// <summary>FRNDINT: the value rounded to an integer in this format, keeping the sign of a zero result.</summary>
    public Float80 RoundToInteger(X87Rounding rc, ref X87Exceptions ex, out bool roundedUp)
    {
        roundedUp = false;
        if (!IsFinite || IsZero) return this;
        var (e, sig) = Normalized();
        if (e >= 63) return this;
        ulong magnitude = RoundShift(sig, 63 - e, rc, Negative, out bool inexact, out roundedUp);
        if (inexact) ex |= X87Exceptions.Precision;
        return FromMagnitude(Negative, magnitude);
    }

    /// <summary>Exact ordering of two non-NaN, supported values: -1, 0 or 1 (the two zeros are equal).</summary>
    public static int Compare(Float80 a, Float80 b)
    {
        if (a.IsZero && b.IsZero) return 0;
        if (a.Negative != b.Negative) return a.Negative ? -1 : 1;
        int magnitude = a.Exponent != b.Exponent ? a.Exponent.CompareTo(b.Exponent) : a.Significand.CompareTo(b.Significand);
        return a.Negative ? -magnitude : magnitude;
    }
}
