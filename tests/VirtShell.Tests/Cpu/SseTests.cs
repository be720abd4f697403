using VirtShell.Engine.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Cpu;

/// <summary>SSE and SSE2 in 64-bit mode: moves, integer and floating-point arithmetic, MXCSR, FXSAVE, and the CR0/CR4 gating.</summary>
public class SseTests
{
    private const uint Cr4Osfxsr = 0x200, Cr4Osxmmexcpt = 0x400;

    private static void EnableSse(LongModeMachine l, uint cr4 = 0x20 | Cr4Osfxsr | Cr4Osxmmexcpt)
    {
        var s = l.M.Cpu.GetState();
        s.Cr4 = cr4;
        l.M.Cpu.SetState(s);
    }

    private static UInt128 Xmm(CpuState s, int n) => s.Fpu.Xmm[n];

    [Fact]
    public void CPUID_claims_SSE_SSE2_and_FXSR()
    {
        using var l = new LongModeMachine();
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(eax, 1);
            a.cpuid();
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(7UL << 24, s.Rdx & (7UL << 24));
        Assert.Equal(0UL, s.Rdx & (1UL << 23));                              // no MMX
    }

    [Fact]
    public void Moves_logic_and_integer_arithmetic_match_the_SSE2_definitions()
    {
        using var l = new LongModeMachine();
        const uint data = LongModeMachine.Data;
        l.M.Memory.Write(data, Enumerable.Range(0, 16).Select(i => (byte)(i * 17)).ToArray());
        l.M.Memory.Write(data + 16, Enumerable.Range(0, 16).Select(i => (byte)(200 + i)).ToArray());
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rsi, data);
            a.movdqa(xmm0, __xmmword_ptr[rsi]);
            a.movdqu(xmm1, __xmmword_ptr[rsi + 16]);
            a.movdqa(xmm2, xmm0);
            a.paddusb(xmm2, xmm1);                       // saturates at 255
            a.movdqa(xmm3, xmm0);
            a.pcmpeqb(xmm3, xmm0);                       // all ones
            a.pmovmskb(eax, xmm3);
            a.pxor(xmm4, xmm4);
            a.mov(rbx, 0x1122_3344_5566_7788);
            a.movq(xmm4, rbx);
            a.pshufd(xmm5, xmm4, 0b00_01_00_01);
            a.movdqa(xmm6, xmm0);
            a.psrlq(xmm6, 4);
            a.movdqa(xmm7, xmm0);
            a.pslldq(xmm7, 3);
            a.movdqa(xmm8, xmm0);
            a.punpcklbw(xmm8, xmm1);
            a.movd(ecx, xmm4);
            a.movdqu(__xmmword_ptr[rsi + 33], xmm5);      // unaligned store
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        EnableSse(l);
        var s = l.RunToHalt();
        byte[] x0 = l.M.Memory.Read(data, 16), x1 = l.M.Memory.Read(data + 16, 16);
        UInt128 Of(Func<int, byte> f) => new UInt128(BitConverter.ToUInt64(Enumerable.Range(8, 8).Select(f).ToArray()), BitConverter.ToUInt64(Enumerable.Range(0, 8).Select(f).ToArray()));
        Assert.Equal(Of(i => (byte)Math.Min(255, x0[i] + x1[i])), Xmm(s, 2));
        Assert.Equal(0xFFFFUL, s.Rax);
        Assert.Equal((UInt128)0x1122_3344_5566_7788, Xmm(s, 4));
        Assert.Equal(new UInt128(0x5566_7788_1122_3344, 0x5566_7788_1122_3344), Xmm(s, 5));
        UInt128 v0 = BitConverter.ToUInt64(x0, 0) | (UInt128)BitConverter.ToUInt64(x0, 8) << 64;
        Assert.Equal(new UInt128(BitConverter.ToUInt64(x0, 8) >> 4, BitConverter.ToUInt64(x0, 0) >> 4), Xmm(s, 6));
        Assert.Equal(v0 << 24, Xmm(s, 7));
        Assert.Equal(Of(i => i % 2 == 0 ? x0[i / 2] : x1[i / 2]), Xmm(s, 8));
        Assert.Equal(0x5566_7788UL, s.Rcx);
        Assert.Equal(BitConverter.GetBytes((ulong)(Xmm(s, 5))), l.M.Memory.Read(data + 33, 8));
    }

    [Fact]
    public void Scalar_double_arithmetic_conversions_and_compares_set_results_flags_and_MXCSR()
    {
        using var l = new LongModeMachine();
        const uint data = LongModeMachine.Data;
        l.SetQword(data, BitConverter.DoubleToUInt64Bits(1.5));
        l.SetQword(data + 8, BitConverter.DoubleToUInt64Bits(3.0));
        l.Write(LongModeMachine.Code, a =>
        {
            a.movsd(xmm0, __qword_ptr[(ulong)data]);
            a.movsd(xmm1, __qword_ptr[(ulong)data + 8]);
            a.addsd(xmm0, xmm1);                          // 4.5
            a.mulsd(xmm0, xmm1);                          // 13.5
            a.divsd(xmm0, xmm1);                          // 4.5
            a.subsd(xmm0, __qword_ptr[(ulong)data]);     // 3.0
            a.mov(rax, -7L);
            a.cvtsi2sd(xmm2, rax);
            a.cvttsd2si(rbx, xmm2);
            a.divsd(xmm1, xmm2);                          // 3 / -7: inexact
            a.cvtsd2si(ecx, xmm1);                        // rounds to 0
            a.ucomisd(xmm0, __qword_ptr[(ulong)data + 8]);
            a.setz(dl);
            a.comisd(xmm2, xmm0);
            a.setb(dh);
            a.stmxcsr(__dword_ptr[(ulong)data + 16]);
            a.xorpd(xmm3, xmm3);
            a.divsd(xmm1, xmm3);                          // divide by zero, masked: -infinity and ZE
            a.stmxcsr(__dword_ptr[(ulong)data + 20]);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        EnableSse(l);
        var s = l.RunToHalt();
        Assert.Equal(3.0, BitConverter.UInt64BitsToDouble((ulong)Xmm(s, 0)));
        Assert.Equal(-7.0, BitConverter.UInt64BitsToDouble((ulong)Xmm(s, 2)));
        Assert.Equal(unchecked((ulong)-7L), s.Rbx);
        Assert.Equal(0UL, s.Rcx);
        Assert.Equal(1UL, s.Rdx & 0xFF);                                      // 3.0 == 3.0
        Assert.Equal(1UL, (s.Rdx >> 8) & 0xFF);                               // -7 < 3
        Assert.Equal(0x1F80u | 0x20, BitConverter.ToUInt32(l.M.Memory.Read(data + 16, 4)));   // PE
        Assert.Equal(0x1F80u | 0x24, BitConverter.ToUInt32(l.M.Memory.Read(data + 20, 4)));   // and ZE
        Assert.Equal(double.NegativeInfinity, BitConverter.UInt64BitsToDouble((ulong)Xmm(s, 1)));
    }

    [Fact]
    public void An_unmasked_exception_is_XM_and_leaves_the_destination_and_without_OSXMMEXCPT_it_is_UD()
    {
        foreach (var (cr4, vector) in new[] { (0x20u | Cr4Osfxsr | Cr4Osxmmexcpt, 19UL), (0x20u | Cr4Osfxsr, 6UL) })
        {
            using var l = new LongModeMachine();
            const uint data = LongModeMachine.Data;
            l.M.Memory.Write(data, BitConverter.GetBytes(0x1F80u & ~0x200u));  // ZE unmasked
            l.SetQword(data + 8, BitConverter.DoubleToUInt64Bits(2.0));
            l.Write(LongModeMachine.Code, a =>
            {
                a.ldmxcsr(__dword_ptr[(ulong)data]);
                a.movsd(xmm0, __qword_ptr[(ulong)data + 8]);
                a.xorpd(xmm1, xmm1);
                a.divsd(xmm0, xmm1);
                a.hlt();
            });
            l.Start(LongModeMachine.Code);
            EnableSse(l, cr4);
            var s = l.RunToHalt();
            Assert.Equal(vector, s.Rdi);
            Assert.Equal(2.0, BitConverter.UInt64BitsToDouble((ulong)Xmm(s, 0)));
            Assert.Equal(0x1F80u & ~0x200u | 4, s.Fpu.Mxcsr);
        }
    }

    [Fact]
    public void SSE_is_UD_without_CR4_OSFXSR_and_NM_with_CR0_TS()
    {
        using var l = new LongModeMachine();
        l.Write(LongModeMachine.Code, a =>
        {
            a.pxor(xmm0, xmm0);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        Assert.Equal(6UL, l.RunToHalt().Rdi);

        using var t = new LongModeMachine();
        t.Write(LongModeMachine.Code, a =>
        {
            a.pxor(xmm0, xmm0);
            a.hlt();
        });
        t.Start(LongModeMachine.Code);
        var s = t.M.Cpu.GetState();
        s.Cr4 |= Cr4Osfxsr;
        s.Cr0 |= 8; // TS
        t.M.Cpu.SetState(s);
        Assert.Equal(7UL, t.RunToHalt().Rdi);
    }

    [Fact]
    public void FXSAVE64_and_FXRSTOR64_carry_MXCSR_and_all_sixteen_XMM_registers()
    {
        using var l = new LongModeMachine();
        const uint area = 0x32000;
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, 0x0123_4567_89AB_CDEF);
            a.movq(xmm15, rax);
            a.movq(xmm3, rax);
            a.mov(r9, area);
            a.fxsave64(__[r9]);
            a.pxor(xmm15, xmm15);
            a.pxor(xmm3, xmm3);
            a.fxrstor64(__[r9]);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        EnableSse(l);
        var s = l.RunToHalt();
        Assert.Equal(0x1F80u, BitConverter.ToUInt32(l.M.Memory.Read(area + 24, 4)));
        Assert.Equal(0x0123_4567_89AB_CDEFUL, BitConverter.ToUInt64(l.M.Memory.Read(area + 160 + 15 * 16, 8)));
        Assert.Equal((UInt128)0x0123_4567_89AB_CDEF, Xmm(s, 15));
        Assert.Equal((UInt128)0x0123_4567_89AB_CDEF, Xmm(s, 3));
    }
}
