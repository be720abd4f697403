using Xunit;
using static Iced.Intel.AssemblerRegisters;
using P = VirtShell.Tests.Cpu.ProtectedModeMachine;

namespace VirtShell.Tests.Cpu;

/// <summary>F3 0F BC/BD on a CPU whose CPUID claims neither BMI1 nor ABM: the prefix is ignored, they are BSF/BSR.</summary>
public sealed class BitScanTests
{
    private const uint Results = 0x20000;

    [Theory]
    [InlineData(0xBC, 0x50u, 4u, false)]            // TZCNT would give 4 too, but with ZF from the count
    [InlineData(0xBD, 0x50u, 6u, false)]            // LZCNT would give 25
    [InlineData(0xBC, 0u, 0x1234u, true)]           // TZCNT would write 32 and set CF
    [InlineData(0xBD, 0u, 0x1234u, true)]
    public void Rep_bsf_and_rep_bsr_run_as_bsf_and_bsr(byte opcode, uint source, uint expected, bool zf)
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.mov(eax, source);
            a.mov(ecx, 0x1234);
            a.stc();
            a.db(0xF3, 0x0F, opcode, 0xC8);     // rep bsf/bsr ecx, eax (tzcnt/lzcnt ecx, eax)
            a.pushfd();
            a.pop(__dword_ptr[Results]);
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(P.NoException, (uint)s.Rdi);
        Assert.Equal(expected, (uint)s.Rcx);
        Assert.Equal(zf, (p.Dword(Results) & 0x40) != 0);
    }
}
