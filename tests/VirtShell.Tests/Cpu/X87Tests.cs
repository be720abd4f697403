using Iced.Intel;
using VirtShell.Cpu.Interpreter;
using VirtShell.Engine.Cpu;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Cpu;

/// <summary>The x87 FPU of the interpreter, driven by real-mode programs whose data lives at DS:0800 (linear 10800).</summary>
public sealed class X87Tests
{
    private const ulong Ds = (ulong)TestMachine.CodeSegment << 4;
    private const ushort StatusIe = 1, StatusZe = 4, StatusPe = 0x20, StatusSf = 0x40, StatusEs = 0x80,
        StatusC0 = 0x100, StatusC1 = 0x200, StatusC2 = 0x400, StatusC3 = 0x4000, StatusB = 0x8000;
    private const uint FlagCf = 1, FlagPf = 4, FlagZf = 0x40;

    private static CpuState Run(TestMachine m, Action<Assembler> code) => RealModeTests.RunProgram(m, code);

    private static void Put(TestMachine m, ushort offset, double v) => m.Memory.Write(Ds + offset, BitConverter.GetBytes(v));
    private static void Put(TestMachine m, ushort offset, long v) => m.Memory.Write(Ds + offset, BitConverter.GetBytes(v));
    private static double Double(TestMachine m, ushort offset) => BitConverter.ToDouble(m.Memory.Read(Ds + offset, 8));
    private static ulong Qword(TestMachine m, ushort offset) => BitConverter.ToUInt64(m.Memory.Read(Ds + offset, 8));
    private static ushort Word(TestMachine m, ushort offset) => m.Word(Ds + offset);

    /// <summary>Real-mode handler for <paramref name="vector"/> at 2000:(vector*16).</summary>
    private static void Handler(TestMachine m, int vector, Action<Assembler> code)
    {
        ushort ip = (ushort)(vector * 16);
        m.SetVector(vector, 0x2000, ip);
        m.Memory.Write(0x20000UL + ip, TestMachine.Assemble(16, ip, code));
    }

    [Fact]
    public void Fninit_leaves_control_037F_status_zero_and_every_register_empty()
    {
        using var m = new TestMachine();
        var s = Run(m, a =>
        {
            a.fld1();                          // dirty the state first
            a.fldcw(__word_ptr[0x8F0]);
            a.fninit();
            a.fnstcw(__word_ptr[0x800]);
            a.fnstsw(__word_ptr[0x802]);
            a.mov(ax, 0xFFFF);
            a.fnstsw(ax);
            a.fnstenv(__[0x810]);
            a.hlt();
        });
        Assert.Equal(0x037F, Word(m, 0x800));
        Assert.Equal(0, Word(m, 0x802));
        Assert.Equal(0UL, s.Rax & 0xFFFF);
        Assert.Equal(0x037F, Word(m, 0x810));
        Assert.Equal(0xFFFF, Word(m, 0x814));      // tag word: all empty
    }

    /// <summary>The check BIOSes and Linux on a 486 use: FNINIT, FNSTSW to memory reads 0, FNSTCW's exception masks read 3F.</summary>
    private static void DetectionIdiom(Assembler a)
    {
        var none = a.CreateLabel();
        a.mov(__word_ptr[0x800], 0x5A5A);
        a.fninit();
        a.fnstsw(__word_ptr[0x800]);
        a.cmp(__byte_ptr[0x800], 0);
        a.jne(none);
        a.fnstcw(__word_ptr[0x800]);
        a.mov(ax, __word_ptr[0x800]);
        a.and(ax, 0x103F);
        a.cmp(ax, 0x003F);
        a.jne(none);
        a.mov(si, 1);
        a.Label(ref none);
        a.mov(eax, 1);
        a.cpuid();
        a.hlt();
    }

    [Fact]
    public void Detection_idiom_and_cpuid_find_the_fpu()
    {
        using var m = new TestMachine();
        var s = Run(m, a => { a.xor(si, si); DetectionIdiom(a); });
        Assert.Equal(1UL, s.Rsi & 0xFFFF);
        Assert.Equal(0x0100_0001UL, s.Rdx & 0x0100_0001);
    }

    [Fact]
    public void Without_an_fpu_the_idiom_finds_none_and_cpuid_agrees()
    {
        using var m = new TestMachine();
        m.Cpu.FpuPresent = false;
        var s = Run(m, a => { a.xor(si, si); DetectionIdiom(a); });
        Assert.Equal(0UL, s.Rsi & 0xFFFF);
        Assert.Equal(0x5A5A, Word(m, 0x800));
        Assert.Equal(0UL, s.Rdx & 0x0100_0001);
    }

    [Fact]
    public void Basic_arithmetic_stores_the_ieee_double_results()
    {
        using var m = new TestMachine();
        Put(m, 0x800, 1.5);
        Put(m, 0x808, 2.25);
        Put(m, 0x810, 2.0);
        m.Memory.Write(Ds + 0x818, BitConverter.GetBytes((short)-7));
        var s = Run(m, a =>
        {
            a.fld(__qword_ptr[0x800]); a.fadd(__qword_ptr[0x808]); a.fstp(__qword_ptr[0x900]);
            a.fld(__qword_ptr[0x800]); a.fmul(__qword_ptr[0x808]); a.fstp(__qword_ptr[0x908]);
            a.fld(__qword_ptr[0x800]); a.fdiv(__qword_ptr[0x808]); a.fstp(__qword_ptr[0x910]);
            a.fld(__qword_ptr[0x810]); a.fsqrt(); a.fstp(__qword_ptr[0x918]);
            a.fld(__qword_ptr[0x800]); a.fld(__qword_ptr[0x808]);   // ST0 = 2.25, ST1 = 1.5
            a.fsub(st0, st1); a.fstp(__qword_ptr[0x920]);            // 0.75, leaves 1.5
            a.fld(__qword_ptr[0x808]);
            a.fdivrp(st1, st0); a.fstp(__qword_ptr[0x928]);          // ST1 = ST0 / ST1 = 2.25 / 1.5
            a.fld(__qword_ptr[0x800]); a.fiadd(__word_ptr[0x818]); a.fstp(__qword_ptr[0x930]);
            a.fld(__qword_ptr[0x810]); a.fchs(); a.fabs(); a.fld1(); a.fdivrp(st1, st0); a.fstp(__qword_ptr[0x938]); // 1 / |−2|
            a.fldpi(); a.fstp(__qword_ptr[0x940]);
            a.fldln2(); a.fstp(__qword_ptr[0x948]);
            a.fldlg2(); a.fstp(__qword_ptr[0x950]);
            a.fldl2e(); a.fstp(__qword_ptr[0x958]);
            a.fldl2t(); a.fstp(__qword_ptr[0x960]);
            a.fnstsw(ax);
            a.hlt();
        });
        Assert.Equal(3.75, Double(m, 0x900));
        Assert.Equal(1.5 * 2.25, Double(m, 0x908));
        Assert.Equal(1.5 / 2.25, Double(m, 0x910));
        Assert.Equal(Math.Sqrt(2.0), Double(m, 0x918));
        Assert.Equal(0.75, Double(m, 0x920));
        Assert.Equal(1.5, Double(m, 0x928));
        Assert.Equal(-5.5, Double(m, 0x930));
        Assert.Equal(0.5, Double(m, 0x938));
        Assert.Equal(0x400921FB54442D18UL, Qword(m, 0x940));
        Assert.Equal(0x3FE62E42FEFA39EFUL, Qword(m, 0x948));
        Assert.Equal(0x3FD34413509F79FFUL, Qword(m, 0x950));
        Assert.Equal(0x3FF71547652B82FEUL, Qword(m, 0x958));
        Assert.Equal(0x400A934F0979A371UL, Qword(m, 0x960));
        ushort status = (ushort)s.Rax;
        Assert.Equal(0, status & 0x3800);                 // balanced stack: TOP back at 0
        Assert.Equal(StatusPe, status & 0x7F);            // only inexact results, no other exception
    }

    [Fact]
    public void Integer_stores_round_under_the_rounding_control_and_64_bit_integers_survive_exactly()
    {
        using var m = new TestMachine();
        double[] inputs = [2.5, -2.5, 3.5, -0.75];
        for (int k = 0; k < inputs.Length; k++) Put(m, (ushort)(0x800 + 8 * k), inputs[k]);
        Put(m, 0x840, long.MaxValue);
        Put(m, 0x848, 40000.0);
        var s = Run(m, a =>
        {
            for (int rc = 0; rc < 4; rc++)
            {
                a.mov(__word_ptr[0x8F0], (ushort)(0x037F | rc << 10));
                a.fldcw(__word_ptr[0x8F0]);
                for (int k = 0; k < inputs.Length; k++)
                {
                    a.fld(__qword_ptr[(uint)(0x800 + 8 * k)]);
                    a.fistp(__word_ptr[(uint)(0x900 + 8 * rc + 2 * k)]);
                }
                a.fld(__qword_ptr[0x808]);
                a.frndint();
                a.fstp(__qword_ptr[(uint)(0x980 + 8 * rc)]);
            }
            a.fninit();
            a.fild(__qword_ptr[0x840]);
            a.fistp(__qword_ptr[0x9A0]);
            a.fld(__qword_ptr[0x848]);
            a.fistp(__word_ptr[0x9A8]);                // out of range: IE, integer indefinite
            a.fnstsw(ax);
            a.hlt();
        });
        short[][] expected =
        [
            [2, -2, 4, -1],     // nearest (even)
            [2, -3, 3, -1],     // down
            [3, -2, 4, 0],      // up
            [2, -2, 3, 0],      // toward zero
        ];
        for (int rc = 0; rc < 4; rc++)
        {
            for (int k = 0; k < inputs.Length; k++)
                Assert.Equal(expected[rc][k], (short)Word(m, (ushort)(0x900 + 8 * rc + 2 * k)));
            Assert.Equal((double)expected[rc][1], Double(m, (ushort)(0x980 + 8 * rc)));
        }
        Assert.Equal((ulong)long.MaxValue, Qword(m, 0x9A0));
        Assert.Equal(0x8000, Word(m, 0x9A8));
        Assert.Equal(StatusIe, (ushort)s.Rax & StatusIe);
    }

    [Fact]
    public void Rounding_control_steps_division_and_square_root_results_by_one_ulp()
    {
        using var m = new TestMachine();
        Put(m, 0x800, 3.0);
        Put(m, 0x808, 2.0);
        Run(m, a =>
        {
            for (int rc = 0; rc < 4; rc++)
            {
                a.mov(__word_ptr[0x8F0], (ushort)(0x037F | rc << 10));
                a.fldcw(__word_ptr[0x8F0]);
                a.fld1();
                a.fchs();
                a.fdiv(__qword_ptr[0x800]);              // -1/3
                a.fstp(__qword_ptr[(uint)(0x900 + 8 * rc)]);
                a.fld(__qword_ptr[0x808]);
                a.fsqrt();
                a.fstp(__qword_ptr[(uint)(0x920 + 8 * rc)]);
            }
            a.hlt();
        });
        double third = -1.0 / 3, root = Math.Sqrt(2);    // both rounded to nearest; the exact values lie in between
        Assert.Equal(-1.0 / 3, Double(m, 0x900));
        Assert.Equal(Math.Sqrt(2), Double(m, 0x920));
        double down = Double(m, 0x908), up = Double(m, 0x910), zero = Double(m, 0x918);
        Assert.Equal(Math.BitIncrement(down), up);
        Assert.True(down == third || up == third);
        Assert.Equal(up, zero);                            // toward zero: the negative result of smaller magnitude
        double rootDown = Double(m, 0x928), rootUp = Double(m, 0x930), rootZero = Double(m, 0x938);
        Assert.Equal(Math.BitIncrement(rootDown), rootUp);
        Assert.Equal(rootDown, rootZero);
        Assert.True(rootDown == root || rootUp == root);
    }

    [Fact]
    public void Extended_conversions_agree_with_the_host_on_random_values()
    {
        var random = new Random(387);
        for (int n = 0; n < 20000; n++)
        {
            // Random bit patterns cover normals, denormals and both infinities; NaNs are left out.
            double d = BitConverter.Int64BitsToDouble(random.NextInt64() ^ (random.Next(2) == 0 ? 0 : long.MinValue));
            if (n % 4 == 0) d = Math.ScaleB(d, -random.Next(1100));
            if (double.IsNaN(d)) continue;
            var ex = X87Exceptions.None;
            var x = Float80.FromDouble(d);
            Assert.Equal(BitConverter.DoubleToInt64Bits(d), (long)x.ToBinary(52, 11, X87Rounding.Nearest, ref ex, out _));
            Assert.Equal((uint)BitConverter.SingleToInt32Bits((float)d), (uint)x.ToBinary(23, 8, X87Rounding.Nearest, ref ex, out _));
            float down = BitConverter.Int32BitsToSingle((int)x.ToBinary(23, 8, X87Rounding.Down, ref ex, out _));
            float up = BitConverter.Int32BitsToSingle((int)x.ToBinary(23, 8, X87Rounding.Up, ref ex, out _));
            Assert.True(down <= d && d <= up, $"{d:R}: {down:R} {up:R}");
            Assert.True(down == up || MathF.BitIncrement(down) == up, $"{d:R}: {down:R} {up:R}");
            long i = random.NextInt64(long.MinValue, long.MaxValue);
            Assert.Equal(i, Float80.FromInteger(i).ToInteger(64, X87Rounding.Nearest, ref ex, out _));
        }
    }

    [Fact]
    public void Fcomi_sets_zf_pf_cf_and_fcom_sets_c3_c2_c0()
    {
        using var m = new TestMachine();
        Put(m, 0x800, 1.5);
        Put(m, 0x808, 2.25);
        m.Memory.Write(Ds + 0x810, BitConverter.GetBytes(0x7FF8_0000_0000_0000UL)); // a quiet NaN
        var s = Run(m, a =>
        {
            a.fld(__qword_ptr[0x808]);
            a.fld(__qword_ptr[0x800]);                 // ST0 = 1.5, ST1 = 2.25
            a.fcomi(st0, st1); a.pushf(); a.pop(__word_ptr[0x900]);   // less
            a.fxch(st0, st1);
            a.fcomi(st0, st1); a.pushf(); a.pop(__word_ptr[0x902]);   // greater
            a.fld(st0);
            a.fucomip(st0, st1); a.pushf(); a.pop(__word_ptr[0x904]); // equal, pops
            a.fcom(__qword_ptr[0x800]); a.fnstsw(__word_ptr[0x910]);  // 2.25 > 1.5
            a.fcom(__qword_ptr[0x808]); a.fnstsw(__word_ptr[0x912]);  // equal
            a.fucom(st0, st1); a.fnstsw(__word_ptr[0x914]);                // 2.25 vs 1.5
            a.fld(__qword_ptr[0x810]);
            a.fucomi(st0, st1); a.pushf(); a.pop(__word_ptr[0x906]);  // unordered, no IE for a QNaN
            a.fnstsw(__word_ptr[0x916]);
            a.fcomi(st0, st1); a.pushf(); a.pop(__word_ptr[0x908]);   // unordered, IE
            a.fnstsw(ax);
            a.hlt();
        });
        const uint zpc = FlagZf | FlagPf | FlagCf;
        Assert.Equal(FlagCf, Word(m, 0x900) & zpc);
        Assert.Equal(0u, Word(m, 0x902) & zpc);
        Assert.Equal(FlagZf, Word(m, 0x904) & zpc);
        Assert.Equal(zpc, Word(m, 0x906) & zpc);
        Assert.Equal(zpc, Word(m, 0x908) & zpc);
        const int c = StatusC3 | StatusC2 | StatusC0;
        Assert.Equal(0, Word(m, 0x910) & c);
        Assert.Equal(StatusC3, Word(m, 0x912) & c);
        Assert.Equal(0, Word(m, 0x914) & c);
        Assert.Equal(0, Word(m, 0x916) & StatusIe);
        Assert.Equal(StatusIe, (ushort)s.Rax & StatusIe);
    }

    [Fact]
    public void Fcmov_follows_the_flags_fcomi_leaves()
    {
        using var m = new TestMachine();
        Put(m, 0x800, 1.5);
        Put(m, 0x808, 2.25);
        Run(m, a =>
        {
            a.fld(__qword_ptr[0x808]);
            a.fld(__qword_ptr[0x800]);                 // ST0 = 1.5, ST1 = 2.25
            a.fcomi(st0, st1);                         // CF=1, ZF=0, PF=0
            a.fcmovnb(st0, st1); a.fst(__qword_ptr[0x900]);   // not taken
            a.fcmovu(st0, st1); a.fst(__qword_ptr[0x908]);    // not taken
            a.fcmovb(st0, st1); a.fst(__qword_ptr[0x910]);    // taken
            a.hlt();
        });
        Assert.Equal(1.5, Double(m, 0x900));
        Assert.Equal(1.5, Double(m, 0x908));
        Assert.Equal(2.25, Double(m, 0x910));
    }

    [Fact]
    public void Transcendentals_compute_through_double()
    {
        using var m = new TestMachine();
        Put(m, 0x800, 0.5);
        Put(m, 0x808, 3.0);
        Put(m, 0x810, 8.0);
        Run(m, a =>
        {
            a.fld(__qword_ptr[0x800]); a.fsin(); a.fstp(__qword_ptr[0x900]);
            a.fld(__qword_ptr[0x800]); a.fcos(); a.fstp(__qword_ptr[0x908]);
            a.fld(__qword_ptr[0x800]); a.fptan(); a.fstp(__qword_ptr[0x910]); a.fstp(__qword_ptr[0x918]);
            a.fld(__qword_ptr[0x800]); a.fsincos(); a.fstp(__qword_ptr[0x920]); a.fstp(__qword_ptr[0x928]);
            a.fld1(); a.fld1(); a.fpatan(); a.fstp(__qword_ptr[0x930]);
            a.fld(__qword_ptr[0x808]); a.fld(__qword_ptr[0x810]); a.fyl2x(); a.fstp(__qword_ptr[0x938]);
            a.fld(__qword_ptr[0x800]); a.f2xm1(); a.fstp(__qword_ptr[0x940]);
            a.fld1(); a.fld(__qword_ptr[0x800]); a.fyl2xp1(); a.fstp(__qword_ptr[0x948]);
            a.hlt();
        });
        static void Near(double expected, double actual) => Assert.InRange(actual, expected - 4e-16, expected + 4e-16);
        Near(Math.Sin(0.5), Double(m, 0x900));
        Near(Math.Cos(0.5), Double(m, 0x908));
        Assert.Equal(1.0, Double(m, 0x910));
        Near(Math.Tan(0.5), Double(m, 0x918));
        Near(Math.Cos(0.5), Double(m, 0x920));
        Near(Math.Sin(0.5), Double(m, 0x928));
        Near(Math.PI / 4, Double(m, 0x930));
        Assert.Equal(9.0, Double(m, 0x938));
        Near(Math.Sqrt(2) - 1, Double(m, 0x940));
        Near(Math.Log2(1.5), Double(m, 0x948));
    }

    [Fact]
    public void Reserved_escape_encodings_raise_ud_or_nm_under_cr0_em()
    {
        using var m = new TestMachine();
        Handler(m, 6, a => { a.inc(si); a.add(__word_ptr[bp], 2); a.iret(); });   // skip the two-byte escape
        Handler(m, 7, a => { a.inc(di); a.add(__word_ptr[bp], 2); a.iret(); });
        var s = Run(m, a =>
        {
            a.xor(si, si);
            a.xor(di, di);
            a.mov(bp, 0xFFF8);                          // where the handlers find the return IP
            a.db(0xD9, 0xD1);                           // no x87 defines D9 D1: #UD
            a.mov(eax, cr0);
            a.or(eax, 0x4);                             // EM
            a.mov(cr0, eax);
            a.db(0xD9, 0xD1);                           // #NM comes first
            a.hlt();
        });
        Assert.Equal(1UL, s.Rsi & 0xFFFF);
        Assert.Equal(1UL, s.Rdi & 0xFFFF);
    }

    [Fact]
    public void Bcd_loads_are_reported_as_unimplemented()
    {
        using var m = new TestMachine();
        m.Load16(a => { a.fbld(__tword_ptr[0x800]); a.hlt(); });
        var exit = m.Cpu.Run();
        Assert.Equal(CpuExitReason.InternalError, exit.Reason);
        Assert.Contains("fbld", exit.Detail);
    }

    [Fact]
    public void Stack_overflow_and_underflow_set_ie_sf_and_c1_and_produce_the_indefinite()
    {
        using var m = new TestMachine();
        var s = Run(m, a =>
        {
            for (int k = 0; k < 9; k++) a.fld1();
            a.fnstsw(__word_ptr[0x900]);
            a.fstp(__qword_ptr[0x908]);              // the pushed indefinite
            a.fninit();
            a.fld1();
            a.fadd(st0, st3);                        // ST3 empty
            a.fnstsw(__word_ptr[0x910]);
            a.fstp(__qword_ptr[0x918]);
            a.fninit();
            a.fst(__qword_ptr[0x920]);               // store from an empty ST0
            a.fnstsw(ax);
            a.hlt();
        });
        ushort overflow = Word(m, 0x900);
        Assert.Equal(StatusIe | StatusSf | StatusC1, overflow & (0x7F | StatusC1));
        Assert.Equal(7, (overflow >> 11) & 7);
        Assert.Equal(0, overflow & StatusEs);        // masked: nothing pending
        Assert.Equal(0xFFF8_0000_0000_0000UL, Qword(m, 0x908));
        ushort underflow = Word(m, 0x910);
        Assert.Equal(StatusIe | StatusSf, underflow & (0x7F | StatusC1));
        Assert.Equal(0xFFF8_0000_0000_0000UL, Qword(m, 0x918));
        Assert.Equal(0xFFF8_0000_0000_0000UL, Qword(m, 0x920));
        Assert.Equal(StatusIe | StatusSf, (ushort)s.Rax & 0x7F);
    }

    [Fact]
    public void Unmasked_zero_divide_keeps_the_operands_and_faults_the_next_waiting_instruction_with_ne()
    {
        using var m = new TestMachine();
        Handler(m, 16, a => { a.fnstsw(__word_ptr[0x900]); a.fnclex(); a.inc(di); a.iret(); });
        var s = Run(m, a =>
        {
            a.mov(eax, cr0);
            a.or(eax, 0x20);                         // CR0.NE: report through #MF
            a.mov(cr0, eax);
            a.xor(di, di);
            a.mov(__word_ptr[0x8F0], 0x037B);        // ZE unmasked
            a.fldcw(__word_ptr[0x8F0]);
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0);                       // 1 / 0: ZE, nothing written, nothing popped
            a.fnstsw(__word_ptr[0x902]);             // non-waiting: no fault
            a.wait();                               // #MF, the handler clears, FWAIT runs again
            a.fstp(__qword_ptr[0x908]);              // still 0
            a.fstp(__qword_ptr[0x910]);              // still 1
            a.hlt();
        });
        Assert.Equal(1UL, s.Rdi & 0xFFFF);
        ushort pending = Word(m, 0x902);
        Assert.Equal(StatusZe | StatusEs | StatusB, pending & (0x7F | StatusEs | StatusB));
        Assert.Equal(6, (pending >> 11) & 7);
        Assert.Equal(pending, Word(m, 0x900));
        Assert.Equal(0.0, Double(m, 0x908));
        Assert.Equal(1.0, Double(m, 0x910));
    }

    [Fact]
    public void Zero_over_zero_and_infinity_over_infinity_are_invalid_and_give_the_indefinite()
    {
        using var m = new TestMachine();
        var s = Run(m, a =>
        {
            a.fninit();
            a.fldz();
            a.fldz();
            a.fdivp(st1, st0);                       // 0/0: .NET's Math.Sign(NaN) used to end the machine here
            a.fnstsw(__word_ptr[0x900]);
            a.fstp(__qword_ptr[0x908]);
            a.fninit();
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0);                       // 1/0 = +inf, ZE
            a.fld(st0);
            a.fdivp(st1, st0);                       // inf/inf
            a.fnstsw(__word_ptr[0x910]);
            a.fstp(__qword_ptr[0x918]);
            a.fninit();
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0);
            a.fld1();
            a.fdivrp(st1, st0);                      // 1/inf = +0 exactly: no PE
            a.fnstsw(__word_ptr[0x920]);
            a.fstp(__qword_ptr[0x928]);
            a.hlt();
        });
        Assert.Equal(StatusIe, Word(m, 0x900) & 0x7F);
        Assert.Equal(0xFFF8_0000_0000_0000UL, Qword(m, 0x908));
        Assert.Equal(StatusIe | StatusZe, Word(m, 0x910) & 0x7F);
        Assert.Equal(0xFFF8_0000_0000_0000UL, Qword(m, 0x918));
        Assert.Equal(StatusZe, Word(m, 0x920) & 0x7F);
        Assert.Equal(0UL, Qword(m, 0x928));
        Assert.Equal(CpuExitReason.Halted, m.Cpu.Run().Reason);
    }

    [Fact]
    public void Unmasked_invalid_zero_over_zero_keeps_the_operands_and_leaves_the_exception_pending()
    {
        using var m = new TestMachine();
        Run(m, a =>
        {
            a.fninit();
            a.mov(__word_ptr[0x8F0], 0x037E);        // IM unmasked
            a.fldcw(__word_ptr[0x8F0]);
            a.fldz();
            a.fldz();
            a.fdivp(st1, st0);
            a.fnstsw(__word_ptr[0x900]);
            a.fnclex();
            a.fstp(__qword_ptr[0x908]);              // still 0: nothing written, nothing popped
            a.fstp(__qword_ptr[0x910]);
            a.hlt();
        });
        ushort status = Word(m, 0x900);
        Assert.Equal(StatusIe | StatusEs | StatusB, status & (0x7F | StatusEs | StatusB));
        Assert.Equal(6, (status >> 11) & 7);
        Assert.Equal(0.0, Double(m, 0x908));
        Assert.Equal(0.0, Double(m, 0x910));
    }

    /// <summary>
    /// Random x87 programs over operands chosen to hit the edges (zeros, infinities, NaNs, denormals, extreme
    /// exponents and integers) under every rounding and precision control, masked and unmasked: whatever the guest
    /// computes, the run ends at its HLT, never in an interpreter error.
    /// </summary>
    [Fact]
    public void Random_x87_programs_on_edge_operands_never_end_in_an_interpreter_error()
    {
        double[] edges = [0.0, -0.0, 1.0, -1.5, double.PositiveInfinity, double.NegativeInfinity, double.NaN,
            BitConverter.Int64BitsToDouble(0x7FF0_0000_0000_0001), double.Epsilon, -double.Epsilon, double.MaxValue,
            -double.MaxValue, 1e-308, 3e300, Math.PI * 1e19, 9.2233720368547758e18, -9.2233720368547758e18, 0.5, 2.5];
        var random = new Random(13);
        Action<Assembler>[] ops =
        [
            a => a.fadd(st0, st1), a => a.fsub(st0, st2), a => a.fsubr(st0, st1), a => a.fmul(st0, st3),
            a => a.fdiv(st0, st1), a => a.fdivr(st0, st2), a => a.fdivp(st1, st0), a => a.fmulp(st2, st0),
            a => a.fchs(), a => a.fabs(), a => a.fsqrt(), a => a.frndint(), a => a.fscale(), a => a.fxtract(),
            a => a.fprem(), a => a.fprem1(), a => a.fcom(st0, st1), a => a.fucomi(st0, st2), a => a.ftst(), a => a.fxam(),
            a => a.fsin(), a => a.fcos(), a => a.fsincos(), a => a.fptan(), a => a.fpatan(), a => a.f2xm1(),
            a => a.fyl2x(), a => a.fyl2xp1(), a => a.fxch(st0, st3), a => a.fincstp(), a => a.fdecstp(), a => a.ffree(st2),
            a => a.fld(__qword_ptr[0x800 + 8 * random.Next(edges.Length)]), a => a.fild(__qword_ptr[0xA00 + 8 * random.Next(4)]),
            a => a.fild(__dword_ptr[0xA00 + 8 * random.Next(4)]), a => a.fistp(__qword_ptr[0xB00]), a => a.fistp(__word_ptr[0xB00]),
            a => a.fist(__dword_ptr[0xB00]), a => a.fst(__dword_ptr[0xB00]), a => a.fstp(__qword_ptr[0xB00]),
            a => a.fstp(__tword_ptr[0xB00]), a => a.fld(__tword_ptr[0xB00]), a => a.fadd(__dword_ptr[0xA00]),
            a => a.fidiv(__word_ptr[0xA00 + 8 * random.Next(4)]), a => a.fdiv(__qword_ptr[0x800 + 8 * random.Next(edges.Length)]),
            a => a.fnclex(), a => a.fldcw(__word_ptr[0xC00 + 2 * random.Next(8)]),
        ];
        for (int program = 0; program < 60; program++)
        {
            using var m = new TestMachine();
            for (int i = 0; i < edges.Length; i++) Put(m, (ushort)(0x800 + 8 * i), edges[i]);
            long[] integers = [0, long.MinValue, long.MaxValue, -1];
            for (int i = 0; i < integers.Length; i++) Put(m, (ushort)(0xA00 + 8 * i), integers[i]);
            // Control words: every rounding and precision control, exceptions masked or not.
            for (int i = 0; i < 8; i++) m.Memory.Write(Ds + 0xC00 + (ulong)(2 * i), BitConverter.GetBytes((ushort)((i < 4 ? 0x037F : 0x0340) | (i & 3) << 10 | (random.Next(3) << 8))));
            m.Load16(a =>
            {
                a.fninit();
                for (int n = 0; n < 150; n++) ops[random.Next(ops.Length)](a);
                a.fnclex();
                a.hlt();
            });
            var exit = m.Cpu.Run();
            Assert.True(exit.Reason == CpuExitReason.Halted, $"program {program}: {exit.Reason}: {exit.Detail}");
        }
    }

    private sealed class BrokenDevice : VirtShell.Engine.Buses.IPortDevice
    {
        public uint ReadPort(ushort port, int size) => throw new InvalidOperationException("the device broke");
        public void WritePort(ushort port, int size, uint value) => throw new InvalidOperationException("the device broke");
    }

    [Fact]
    public void A_dotnet_exception_under_an_instruction_ends_the_run_as_an_internal_error_naming_it()
    {
        using var m = new TestMachine();
        m.Ports.Register(0x99, 1, new BrokenDevice(), "broken");
        m.Load16(a => { a.mov(al, 7); a.@out(0x99, al); a.hlt(); });
        var exit = m.Cpu.Run();
        Assert.Equal(CpuExitReason.InternalError, exit.Reason);
        Assert.Contains("interpreter error in out 99h,al (bytes E699) at 1000:", exit.Detail);
        Assert.Contains("InvalidOperationException: the device broke", exit.Detail);
    }

    [Fact]
    public void Fsave_and_frstor_round_trip_the_registers_bit_for_bit_in_both_layouts()
    {
        using var m = new TestMachine();
        byte[] odd = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFF, 0xBF]; // 64 significant bits, no double holds it
        m.Memory.Write(Ds + 0x800, odd);
        Put(m, 0x810, -3.25);
        Run(m, a =>
        {
            a.fld(__tword_ptr[0x800]);
            a.fld(__qword_ptr[0x810]);
            a.fnsave(__[0xA00]);                     // 94 bytes, 16-bit real-mode layout
            a.fnstcw(__word_ptr[0x900]);             // FNSAVE reinitialised the FPU
            a.fnstsw(__word_ptr[0x902]);
            a.frstor(__[0xA00]);
            a.db(0x66); a.fnsave(__[0xB00]);         // 108 bytes, 32-bit layout
            a.db(0x66); a.frstor(__[0xB00]);
            a.fstp(__qword_ptr[0x910]);
            a.fstp(__tword_ptr[0x920]);
            a.hlt();
        });
        Assert.Equal(0x037F, Word(m, 0x900));
        Assert.Equal(0, Word(m, 0x902));
        Assert.Equal(-3.25, Double(m, 0x910));
        Assert.Equal(odd, m.Memory.Read(Ds + 0x920, 10));
        // The 16-bit image: control, status (TOP = 6), tags (registers 6 and 7 valid), then ST0, ST1.
        Assert.Equal(0x037F, Word(m, 0xA00));
        Assert.Equal(6 << 11, Word(m, 0xA02));
        Assert.Equal(0x0FFF, Word(m, 0xA04));
        Assert.Equal(odd, m.Memory.Read(Ds + 0xA00 + 14 + 10, 10));
        // The 32-bit image has the same fields in doublewords and the registers after 28 bytes.
        Assert.Equal(0xFFFF_037FU, BitConverter.ToUInt32(m.Memory.Read(Ds + 0xB00, 4)));
        Assert.Equal(0x0FFF, Word(m, 0xB08));
        Assert.Equal(odd, m.Memory.Read(Ds + 0xB00 + 28 + 10, 10));
        // The last instruction was FLD m64 (DD /0, ModR/M 06): FOP 506, data pointer 10810 in real-mode form.
        Assert.Equal(0x0506U, BitConverter.ToUInt32(m.Memory.Read(Ds + 0xB10, 4)) & 0x7FF);
        Assert.Equal(0x0810, Word(m, 0xB14));
        Assert.Equal(0x1000U, BitConverter.ToUInt32(m.Memory.Read(Ds + 0xB18, 4)));
    }

    [Fact]
    public void Fxsave_and_fxrstor_round_trip_and_an_unaligned_area_raises_gp()
    {
        using var m = new TestMachine();
        Handler(m, 13, a => { a.mov(bp, 0x0D0D); a.hlt(); });
        Put(m, 0x800, 6.5);
        m.Memory.Write(Ds + 0xA18, Enumerable.Repeat((byte)0xEE, 8).ToArray()); // MXCSR and its mask: no SSE here
        var s = Run(m, a =>
        {
            a.fld1();
            a.fld(__qword_ptr[0x800]);
            a.fxsave(__[0xA00]);
            a.fninit();
            a.fxrstor(__[0xA00]);
            a.fstp(__qword_ptr[0x900]);
            a.fstp(__qword_ptr[0x908]);
            a.fnstsw(__word_ptr[0x910]);
            a.xor(bp, bp);
            a.fxsave(__[0xC08]);
            a.hlt();
        });
        Assert.Equal(6.5, Double(m, 0x900));
        Assert.Equal(1.0, Double(m, 0x908));
        Assert.Equal(0, Word(m, 0x910) & 0x3800);    // both popped
        Assert.Equal(0x037F, Word(m, 0xA00));
        Assert.Equal(6 << 11, Word(m, 0xA02));
        Assert.Equal(0xC0, m.Memory.Read(Ds + 0xA04, 1)[0]);                  // abridged tag: physical 6 and 7
        Assert.Equal(Enumerable.Repeat((byte)0xEE, 8).ToArray(), m.Memory.Read(Ds + 0xA18, 8));
        Assert.Equal(0x4001, Word(m, 0xA20 + 8));                               // ST0 = 6.5: exponent 2
        Assert.Equal(0x0D0DUL, s.Rbp & 0xFFFF);
    }

    [Fact]
    public void Cr0_ts_and_em_raise_nm_and_wait_faults_only_with_mp()
    {
        using var m = new TestMachine();
        // The #NM handler counts, then clears TS and EM so that the instruction runs again.
        Handler(m, 7, a =>
        {
            a.inc(si);
            a.mov(eax, cr0);
            a.and(eax, unchecked((int)~0xCu));
            a.mov(cr0, eax);
            a.iret();
        });
        var s = Run(m, a =>
        {
            a.xor(si, si);
            a.mov(eax, cr0);
            a.or(eax, 0x8);                          // TS
            a.mov(cr0, eax);
            a.wait();                               // TS without MP: WAIT does not fault
            a.fld1();                                // #NM, then runs
            a.mov(eax, cr0);
            a.or(eax, 0x4);                          // EM
            a.mov(cr0, eax);
            a.fld1();                                // #NM, then runs
            a.faddp(st1, st0);
            a.fstp(__qword_ptr[0x900]);
            a.mov(eax, cr0);
            a.or(eax, 0xA);                          // MP + TS
            a.mov(cr0, eax);
            a.wait();                               // #NM
            a.hlt();
        });
        Assert.Equal(3UL, s.Rsi & 0xFFFF);
        Assert.Equal(2.0, Double(m, 0x900));
    }

    [Fact]
    public void Fprem_fprem1_fxtract_fscale_and_fxam_work_on_the_extended_values()
    {
        using var m = new TestMachine();
        Put(m, 0x800, 3.0);
        Put(m, 0x808, 10.5);
        Put(m, 0x810, -48.0);
        var s = Run(m, a =>
        {
            a.fld(__qword_ptr[0x800]);
            a.fld(__qword_ptr[0x808]);
            a.fprem();                               // 10.5 - 3·3 = 1.5, quotient 3 (Q1 Q0)
            a.fnstsw(__word_ptr[0x900]);
            a.fstp(__qword_ptr[0x908]);
            a.fld(__qword_ptr[0x808]);
            a.fprem1();                              // 10.5 - 3·4 = -1.5 (3.5 rounds to even 4)
            a.fstp(__qword_ptr[0x910]);
            a.fstp(st0);
            a.fld(__qword_ptr[0x810]);
            a.fxtract();                             // ST0 = -1.5, ST1 = 5
            a.fstp(__qword_ptr[0x918]);
            a.fst(__qword_ptr[0x920]);
            a.fld1();
            a.fscale();                              // 1 · 2^5
            a.fstp(__qword_ptr[0x928]);
            a.fstp(st0);
            a.fldz(); a.fchs(); a.fxam(); a.fnstsw(__word_ptr[0x930]);  // negative zero: C3, C1
            a.fstp(st0);
            a.fxam(); a.fnstsw(__word_ptr[0x932]);                       // empty: C3 C0
            a.fld(__qword_ptr[0x810]); a.ftst(); a.fnstsw(ax);           // negative: C0
            a.hlt();
        });
        ushort prem = Word(m, 0x900);
        Assert.Equal(StatusC3 | StatusC1, prem & (StatusC3 | StatusC2 | StatusC1 | StatusC0));
        Assert.Equal(1.5, Double(m, 0x908));
        Assert.Equal(-1.5, Double(m, 0x910));
        Assert.Equal(-1.5, Double(m, 0x918));
        Assert.Equal(5.0, Double(m, 0x920));
        Assert.Equal(32.0, Double(m, 0x928));
        const int cc = StatusC3 | StatusC2 | StatusC1 | StatusC0;
        Assert.Equal(StatusC3 | StatusC1, Word(m, 0x930) & cc);
        Assert.Equal(StatusC3 | StatusC0, Word(m, 0x932) & (StatusC3 | StatusC2 | StatusC0));
        Assert.Equal(StatusC0, (ushort)s.Rax & (StatusC3 | StatusC2 | StatusC0));
    }

    [Fact]
    public void Fnstenv_in_protected_mode_reports_selectors_and_offsets_of_the_last_instruction()
    {
        using var m = new TestMachine();
        m.Memory.Write(0x20000, BitConverter.GetBytes(1.25));
        ProtectedModeTests.LoadProtectedModeProgram(m, a =>
        {
            a.fninit();
            a.mov(__word_ptr[0x20300], 0x0360);     // every exception unmasked
            a.fldcw(__word_ptr[0x20300]);
            a.fld(__qword_ptr[0x20000]);
            a.fnstenv(__[0x20100]);
            a.fnstcw(__word_ptr[0x20200]);
            a.hlt();
        }, a => a.iretd());
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        uint At(uint offset) => BitConverter.ToUInt32(m.Memory.Read(0x20100 + offset, 4));
        Assert.Equal(0xFFFF_0360U, At(0));
        Assert.Equal(0xFFFF_3FFFU, At(8));                       // ST0 (physical 7) valid, the rest empty
        Assert.InRange(At(12), 0x10100U, 0x10180U);              // FIP: inside the 32-bit code
        Assert.Equal(0x08U | 0x0505U << 16, At(16));             // FCS, FOP = DD /0 with ModR/M 05
        Assert.Equal(0x20000U, At(20));
        Assert.Equal(0x10U, At(24) & 0xFFFF);
        Assert.Equal(0x037F, m.Word(0x20200));                   // FNSTENV masked every exception
    }

    [Fact]
    public void The_register_stack_travels_in_CpuState_from_one_cpu_to_another()
    {
        using var first = new TestMachine();
        var saved = Run(first, a => { a.fld1(); a.fldpi(); a.hlt(); });
        Assert.Equal(6, (saved.Fpu.Fsw >> 11) & 7);                       // TOP after two pushes
        Assert.Equal(0xC0, saved.Fpu.Ftw);                                 // physical registers 6 and 7 in use
        Assert.Equal((UInt128)0x4000 << 64 | 0xC90F_DAA2_2168_C235, saved.Fpu.St[0]);   // pi, FXSAVE order
        Assert.Equal((UInt128)0x3FFF << 64 | 0x8000_0000_0000_0000, saved.Fpu.St[1]);   // 1.0

        using var second = new TestMachine();
        second.Load16(a => { a.fstp(__qword_ptr[0x800]); a.fstp(__qword_ptr[0x808]); a.fnstsw(ax); a.hlt(); });
        var state = second.Cpu.GetState();
        state.Fpu = saved.Fpu;
        second.Cpu.SetState(state);
        Assert.Equal(CpuExitReason.Halted, second.Cpu.Run().Reason);
        Assert.Equal(Math.PI, Double(second, 0x800));
        Assert.Equal(1.0, Double(second, 0x808));
        Assert.Equal(0UL, (second.Cpu.GetState().Rax >> 11) & 7);          // both popped: TOP back to 0
    }
}
