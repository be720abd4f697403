using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Cpu;

/// <summary>
/// x87 results the differential fuzzer found the interpreter getting wrong, each with the value the host CPU (ring 3,
/// checked with a native probe) gives: extended-precision arithmetic, and status-word details. Programs run in real
/// mode from FNINIT with operands at DS:0800 (A), DS:0810 (B), DS:0820 (word), DS:0830 (double), DS:0838 (float),
/// DS:0840 (control word); the status word after the code goes to DS:08F0, then ST0 and ST1 to DS:0900 and DS:0910.
/// </summary>
public sealed class X87HardwareTests
{
    private const ulong Ds = (ulong)TestMachine.CodeSegment << 4;

    private sealed record Outcome(ushort Status, ushort St0Exponent, ulong St0, ushort St1Exponent, ulong St1);

    private static Outcome Run(Action<Assembler> code, (ulong Sig, ushort Se)? a = null, (ulong Sig, ushort Se)? b = null,
        short word = 0, ulong doubleBits = 0, uint floatBits = 0, ushort control = 0x037F)
    {
        using var m = new TestMachine();
        void Put80(ushort at, (ulong Sig, ushort Se) v)
        {
            m.Memory.Write(Ds + at, BitConverter.GetBytes(v.Sig));
            m.Memory.Write(Ds + at + 8UL, BitConverter.GetBytes(v.Se));
        }
        if (a is { } va) Put80(0x800, va);
        if (b is { } vb) Put80(0x810, vb);
        m.Memory.Write(Ds + 0x820, BitConverter.GetBytes(word));
        m.Memory.Write(Ds + 0x830, BitConverter.GetBytes(doubleBits));
        m.Memory.Write(Ds + 0x838, BitConverter.GetBytes(floatBits));
        m.Memory.Write(Ds + 0x840, BitConverter.GetBytes(control));
        RealModeTests.RunProgram(m, asm =>
        {
            asm.fninit();
            asm.fldcw(__word_ptr[0x840]);
            code(asm);
            asm.fnstsw(__word_ptr[0x8F0]);
            asm.fstp(__tword_ptr[0x900]);
            asm.fstp(__tword_ptr[0x910]);
            asm.hlt();
        });
        ulong Q(ushort at) => BitConverter.ToUInt64(m.Memory.Read(Ds + at, 8));
        return new Outcome(m.Word(Ds + 0x8F0), m.Word(Ds + 0x908), Q(0x900), m.Word(Ds + 0x918), Q(0x910));
    }

    private static readonly (ulong, ushort) One = (0x8000_0000_0000_0000, 0x3FFF);
    private static readonly (ulong, ushort) Denormal = (0x0000_0000_1234_5678, 0x0000);
    private static readonly (ulong, ushort) Indefinite = (0xC000_0000_0000_0000, 0xFFFF);

    [Fact]
    public void Extended_precision_keeps_64_significand_bits_and_double_precision_rounds_to_53()
    {
        var tiny = (0x8000_0000_0000_0001UL, (ushort)0x3FC0); // just over 2^-63
        var ext = Run(a => { a.fld(__tword_ptr[0x800]); a.fld(__tword_ptr[0x810]); a.faddp(st1, st0); }, One, tiny);
        Assert.Equal((0x3FFF, 0x8000_0000_0000_0001UL), (ext.St0Exponent, ext.St0));
        Assert.Equal(0x3820, ext.Status); // PE, C1 clear: rounded down
        var dbl = Run(a => { a.fld(__tword_ptr[0x800]); a.fld(__tword_ptr[0x810]); a.faddp(st1, st0); }, One, tiny, control: 0x027F);
        Assert.Equal((0x3FFF, 0x8000_0000_0000_0000UL), (dbl.St0Exponent, dbl.St0));

        var third = Run(a => { a.fld1(); a.fld1(); a.fld1(); a.faddp(st1, st0); a.fld1(); a.faddp(st1, st0); a.fdivp(st1, st0); });
        Assert.Equal((0x3FFD, 0xAAAA_AAAA_AAAA_AAABUL), (third.St0Exponent, third.St0));
        Assert.Equal(0x3A20, third.Status); // C1: rounded up
        var root = Run(a => { a.fld1(); a.fld1(); a.faddp(st1, st0); a.fsqrt(); });
        Assert.Equal((0x3FFF, 0xB504_F333_F9DE_6484UL), (root.St0Exponent, root.St0));
    }

    [Fact]
    public void Double_precision_control_keeps_the_extended_exponent_range()
    {
        var big = Run(a =>
        {
            a.fld(__tword_ptr[0x800]); a.fld1(); a.fld1(); a.faddp(st1, st0); a.fld(st0); a.fmulp(st1, st0); a.fld(st0); a.fmulp(st1, st0); a.fmulp(st1, st0);
        }, (0xFFFF_FFFF_FFFF_0000, 0x43FE), control: 0x027F);
        Assert.Equal((0x4402, 0xFFFF_FFFF_FFFF_0000UL), (big.St0Exponent, big.St0));
        Assert.Equal(0x3800, big.Status); // no overflow
    }

    [Fact]
    public void Denormal_operand_is_not_reported_beside_a_nan_nor_in_a_division_by_zero()
    {
        var nan = Run(a => { a.fld(__tword_ptr[0x800]); a.fadd(__dword_ptr[0x838]); }, Indefinite, floatBits: 0x75);
        Assert.Equal(0x3800, nan.Status);
        var byZero = Run(a => { a.fld(__tword_ptr[0x800]); a.fidiv(__word_ptr[0x820]); }, Denormal);
        Assert.Equal(0x3804, byZero.Status);
    }

    [Fact]
    public void Frndint_fscale_fxtract_and_fprem_report_a_denormal_operand()
    {
        Assert.Equal(0x3822, Run(a => { a.fld(__tword_ptr[0x800]); a.frndint(); }, Denormal).Status);
        Assert.Equal(0x3002, Run(a => { a.fld1(); a.fld(__tword_ptr[0x800]); a.fscale(); }, Denormal).Status);
        Assert.Equal(0x3002, Run(a => { a.fld(__tword_ptr[0x800]); a.fxtract(); }, Denormal).Status);
        // A pseudo-denormal dividend smaller than the divisor is the remainder, written back with exponent 1.
        var pseudo = Run(a => { a.fld1(); a.fld(__tword_ptr[0x800]); a.fprem(); }, (0x941A_C171_7674_34B3, 0x0000));
        Assert.Equal(0x3002, pseudo.Status);
        Assert.Equal((0x0001, 0x941A_C171_7674_34B3UL), (pseudo.St0Exponent, pseudo.St0));
    }

    [Fact]
    public void Underflow_needs_a_result_that_is_still_tiny_after_rounding()
    {
        // Under single precision the largest denormal rounds up to the smallest normal: PE and C1, but no UE.
        var normal = Run(a => { a.fldz(); a.fld(__tword_ptr[0x800]); a.faddp(st1, st0); }, (0x7FFF_FFFF_FFFF_FFFF, 0), control: 0x007F);
        Assert.Equal(0x3A22, normal.Status);
        Assert.Equal((0x0001, 0x8000_0000_0000_0000UL), (normal.St0Exponent, normal.St0));
        var tiny = Run(a => { a.fldz(); a.fld(__tword_ptr[0x800]); a.faddp(st1, st0); }, (0x7FFF_FF00_0000_0001, 0), control: 0x007F);
        Assert.Equal(0x3832, tiny.Status);
        Assert.Equal((0x0000, 0x7FFF_FF00_0000_0000UL), (tiny.St0Exponent, tiny.St0));
    }

    [Fact]
    public void Fprem1_by_infinity_writes_a_pseudo_denormal_back_with_exponent_1()
    {
        var r = Run(a => { a.fld(__tword_ptr[0x810]); a.fld(__tword_ptr[0x800]); a.fprem1(); },
            (0x8000_0000_0000_003B, 0), (0x8000_0000_0000_0000, 0x7FFF));
        Assert.Equal(0x3002, r.Status);
        Assert.Equal((0x0001, 0x8000_0000_0000_003BUL), (r.St0Exponent, r.St0));
    }

    [Fact]
    public void Fprem_reduces_by_32_plus_the_exponent_difference_modulo_32_bits_when_partial()
    {
        var r = Run(a => { a.fld(__tword_ptr[0x810]); a.fld(__tword_ptr[0x800]); a.fprem(); },
            (0x8000_0000_0000_0000, 0x3FFF + 200), (0xC000_0000_0000_0000, 0x4000)); // 2^200 mod 3
        Assert.Equal(0x3400, r.Status); // C2: partial
        Assert.Equal((0x409F, 0x8000_0000_0000_0000UL), (r.St0Exponent, r.St0));
    }

    [Fact]
    public void Fprem_stack_underflow_clears_c2()
    {
        Assert.Equal(0x3841, Run(a => { a.fld1(); a.fxam(); a.fprem(); }).Status);
    }

    [Fact]
    public void Fxtract_of_an_empty_register_pushes_and_both_halves_are_the_indefinite()
    {
        var r = Run(a => a.fxtract());
        Assert.Equal(0x3841, r.Status);
        Assert.Equal((0xFFFF, 0xC000_0000_0000_0000UL), (r.St0Exponent, r.St0));
        Assert.Equal((0xFFFF, 0xC000_0000_0000_0000UL), (r.St1Exponent, r.St1));
    }

    [Fact]
    public void Between_two_quiet_nans_with_one_significand_the_positive_one_wins()
    {
        var r = Run(a => { a.fld(__tword_ptr[0x800]); a.fld(__tword_ptr[0x810]); a.faddp(st1, st0); }, Indefinite, (0xC000_0000_0000_0000, 0x7FFF));
        Assert.Equal((0x7FFF, 0xC000_0000_0000_0000UL), (r.St0Exponent, r.St0));
    }

    [Fact]
    public void Condition_code_c1_follows_the_hardware()
    {
        // FCOMI and FCMOVcc leave C1 (set here by FXAM of a negative number); FFREE clears it.
        Assert.Equal(0x3E00, Run(a => { a.fld1(); a.fchs(); a.fxam(); a.fcomi(st0, st0); }).Status);
        Assert.Equal(0x3600, Run(a => { a.fld1(); a.fld1(); a.fchs(); a.fxam(); a.clc(); a.fcmovb(st0, st1); }).Status);
        Assert.Equal(0x3C00, Run(a => { a.fld1(); a.fchs(); a.fxam(); a.ffree(st1); }).Status);
        // FIST out of range: IE with C1 clear, even where rounding went up.
        Assert.Equal(0x0001, Run(a => { a.fld(__tword_ptr[0x800]); a.fistp(__word_ptr[0x820]); }, (0x8000_0600_0000_0000, 0x3FFF + 20)).Status);
        // FLD ST(i) of an empty register onto a full stack is an underflow (C1 = 0), not an overflow.
        Assert.Equal(0x3841, Run(a => { for (int i = 0; i < 8; i++) a.fld1(); a.ffree(st1); a.fld(st1); }).Status);
        // FSCALE's C1 says the result was rounded up (here to infinity).
        var scaled = Run(a => { a.fld(__tword_ptr[0x810]); a.fld(__tword_ptr[0x800]); a.fscale(); },
            (0xFFFF_FFFF_FFFF_FFFF, 0x7FF0), (0x8000_0000_0000_0000, 0x4003));
        Assert.Equal(0x3228, scaled.Status);
        Assert.Equal((0x7FFF, 0x8000_0000_0000_0000UL), (scaled.St0Exponent, scaled.St0));
    }
}
