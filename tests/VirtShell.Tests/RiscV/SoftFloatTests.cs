using VirtShell.Cpu.RiscV;
using static VirtShell.Cpu.RiscV.SoftFloat;

namespace VirtShell.Tests.RiscV;

/// <summary>
/// The RISC-V F/D rounding core against the host: to nearest-even it must give the host's IEEE results bit for bit,
/// the directed modes must bracket the exact result one ulp apart, and the flags must say what happened.
/// </summary>
public sealed class SoftFloatTests
{
    private static readonly Random Seeded = new(20);

    /// <summary>Doubles over the whole range, subnormals and specials included.</summary>
    private static double RandomDouble() => Seeded.Next(8) switch
    {
        0 => BitConverter.UInt64BitsToDouble((ulong)Seeded.NextInt64() & 0x800F_FFFF_FFFF_FFFF), // subnormal
        1 => (Seeded.NextDouble() - 0.5) * 8,
        2 => Seeded.Next(6) switch { 0 => double.PositiveInfinity, 1 => double.NegativeInfinity, 2 => -0.0, 3 => double.NaN, 4 => double.MaxValue, _ => double.Epsilon },
        _ => BitConverter.UInt64BitsToDouble((ulong)Seeded.NextInt64() ^ ((ulong)Seeded.Next(2) << 63)),
    };

    private static ulong Bits(double v) => double.IsNaN(v) ? Binary64.CanonicalNan : BitConverter.DoubleToUInt64Bits(v);
    private static ulong Bits(float v) => float.IsNaN(v) ? Binary32.CanonicalNan : BitConverter.SingleToUInt32Bits(v);

    [Fact]
    public void Nearest_even_matches_the_host_for_every_double_operation()
    {
        for (int i = 0; i < 20000; i++)
        {
            double a = RandomDouble(), b = RandomDouble(), c = RandomDouble();
            ulong x = BitConverter.DoubleToUInt64Bits(a), y = BitConverter.DoubleToUInt64Bits(b), z = BitConverter.DoubleToUInt64Bits(c);
            uint flags = 0;
            Assert.Equal(Bits(a + b), Add(x, y, Binary64, Rounding.NearestEven, ref flags));
            Assert.Equal(Bits(a - b), Subtract(x, y, Binary64, Rounding.NearestEven, ref flags));
            Assert.Equal(Bits(a * b), Multiply(x, y, Binary64, Rounding.NearestEven, ref flags));
            Assert.Equal(Bits(a / b), Divide(x, y, Binary64, Rounding.NearestEven, ref flags));
            Assert.Equal(Bits(Math.Sqrt(a)), SquareRoot(x, Binary64, Rounding.NearestEven, ref flags));
            Assert.Equal(Bits(Math.FusedMultiplyAdd(a, b, c)), MultiplyAdd(x, y, z, false, false, Binary64, Rounding.NearestEven, ref flags));
            Assert.Equal(Bits((float)a), Convert(x, Binary64, Binary32, Rounding.NearestEven, ref flags));
        }
    }

    [Fact]
    public void Nearest_even_matches_the_host_for_singles()
    {
        for (int i = 0; i < 20000; i++)
        {
            float a = BitConverter.UInt32BitsToSingle((uint)Seeded.Next() ^ ((uint)Seeded.Next(2) << 31));
            float b = BitConverter.UInt32BitsToSingle((uint)Seeded.Next() ^ ((uint)Seeded.Next(2) << 31));
            uint x = BitConverter.SingleToUInt32Bits(a), y = BitConverter.SingleToUInt32Bits(b), flags = 0;
            Assert.Equal(Bits(a + b), Add(x, y, Binary32, Rounding.NearestEven, ref flags));
            Assert.Equal(Bits(a * b), Multiply(x, y, Binary32, Rounding.NearestEven, ref flags));
            Assert.Equal(Bits(a / b), Divide(x, y, Binary32, Rounding.NearestEven, ref flags));
            Assert.Equal(Bits(MathF.Sqrt(a)), SquareRoot(x, Binary32, Rounding.NearestEven, ref flags));
        }
    }

    /// <summary>For sums of finite doubles the host's TwoSum gives the exact error: down and up bracket it.</summary>
    [Fact]
    public void Directed_modes_bracket_the_exact_sum_and_inexact_says_so()
    {
        for (int i = 0; i < 20000; i++)
        {
            double a = (Seeded.NextDouble() - 0.5) * Math.Pow(2, Seeded.Next(-60, 60)), b = (Seeded.NextDouble() - 0.5) * Math.Pow(2, Seeded.Next(-60, 60));
            double sum = a + b, bv = sum - a, error = (a - (sum - bv)) + (b - bv);
            ulong x = BitConverter.DoubleToUInt64Bits(a), y = BitConverter.DoubleToUInt64Bits(b);
            uint flags = 0;
            double down = BitConverter.UInt64BitsToDouble(Add(x, y, Binary64, Rounding.Down, ref flags));
            double up = BitConverter.UInt64BitsToDouble(Add(x, y, Binary64, Rounding.Up, ref flags));
            double towardZero = BitConverter.UInt64BitsToDouble(Add(x, y, Binary64, Rounding.TowardZero, ref flags));
            Assert.Equal(error != 0 ? Inexact : 0u, flags);
            if (error == 0)
            {
                Assert.Equal(sum, down);
                Assert.Equal(sum, up);
            }
            else
            {
                Assert.Equal(Math.BitIncrement(down), up);
                Assert.True(error > 0 ? down == sum : up == sum);
                Assert.Equal(Math.Abs(down) < Math.Abs(up) ? down : up, towardZero);
            }
        }
    }

    [Theory]
    [InlineData(0, 0x7FF0_0000_0000_0000UL)]
    [InlineData(1, 0x7FEF_FFFF_FFFF_FFFFUL)]
    [InlineData(2, 0x7FEF_FFFF_FFFF_FFFFUL)]
    [InlineData(3, 0x7FF0_0000_0000_0000UL)]
    [InlineData(4, 0x7FF0_0000_0000_0000UL)]
    public void Overflow_gives_infinity_or_the_largest_finite_by_mode(int mode, ulong expected)
    {
        uint flags = 0;
        Assert.Equal(expected, Multiply(BitConverter.DoubleToUInt64Bits(double.MaxValue), BitConverter.DoubleToUInt64Bits(2), Binary64, (Rounding)mode, ref flags));
        Assert.Equal(Overflow | Inexact, flags);
    }

    [Fact]
    public void Tininess_is_detected_after_rounding()
    {
        uint flags = 0;
        // 2^-1022 · (1 - 2^-53) is exactly representable with an unbounded exponent, so it is tiny though it rounds
        // to the smallest normal; 2^-1022 · (1 - 2^-54) is not tiny (it rounds to 2^-1022 at full precision).
        ulong smallestNormal = 0x0010_0000_0000_0000;
        Assert.Equal(smallestNormal, Multiply(smallestNormal, BitConverter.DoubleToUInt64Bits(1 - Math.Pow(2, -53)), Binary64, Rounding.NearestEven, ref flags));
        Assert.Equal(Underflow | Inexact, flags);
        flags = 0;
        ulong justBelow = MultiplyAdd(smallestNormal, BitConverter.DoubleToUInt64Bits(-Math.Pow(2, -54)), smallestNormal, false, false, Binary64, Rounding.NearestEven, ref flags);
        Assert.Equal(smallestNormal, justBelow);
        Assert.Equal(Inexact, flags);
    }

    [Theory]
    [InlineData(2.5, 0, 2UL, Inexact)]
    [InlineData(2.5, 4, 3UL, Inexact)]
    [InlineData(-2.5, 4, 0xFFFF_FFFF_FFFF_FFFDUL, Inexact)]
    [InlineData(-0.5, 3, 0UL, Inexact)]
    [InlineData(1e30, 1, 0x7FFF_FFFF_FFFF_FFFFUL, Invalid)]
    [InlineData(-1e30, 1, 0x8000_0000_0000_0000UL, Invalid)]
    [InlineData(double.NaN, 1, 0x7FFF_FFFF_FFFF_FFFFUL, Invalid)]
    public void Conversions_to_long_round_by_mode_and_saturate(double value, int mode, ulong expected, uint expectedFlags)
    {
        uint flags = 0;
        Assert.Equal(expected, ToInteger(BitConverter.DoubleToUInt64Bits(value), Binary64, 64, signed: true, (Rounding)mode, ref flags));
        Assert.Equal(expectedFlags, flags);
    }
}
