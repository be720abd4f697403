using Xunit;
using static Iced.Intel.AssemblerRegisters;
using P = VirtShell.Tests.Cpu.ProtectedModeMachine;

namespace VirtShell.Tests.Cpu;

/// <summary>CPUID identity, RDMSR/WRMSR, SYSENTER/SYSEXIT, CMPXCHG8B and global pages.</summary>
public sealed class MsrCpuidTests
{
    private const uint Results = 0x20000;

    [Fact]
    public void Cpuid_reports_a_genuine_intel_family_6_part_with_only_implemented_features()
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.xor(eax, eax);
            a.cpuid();
            a.mov(__dword_ptr[Results], eax);
            a.mov(__dword_ptr[Results + 4], ebx);
            a.mov(__dword_ptr[Results + 8], edx);
            a.mov(__dword_ptr[Results + 12], ecx);
            a.mov(eax, 1);
            a.cpuid();
            a.mov(__dword_ptr[Results + 16], eax);
            a.mov(__dword_ptr[Results + 20], edx);
            a.mov(__dword_ptr[Results + 24], ecx);
            a.mov(eax, 0x80000000);
            a.cpuid();
            a.mov(__dword_ptr[Results + 28], eax);
            a.mov(eax, 7);                      // structured extended features, subleaf 0
            a.xor(ecx, ecx);
            a.cpuid();
            a.mov(__dword_ptr[Results + 32], ecx);
            a.mov(__dword_ptr[Results + 52], ebx);
            a.mov(eax, 8);                      // beyond the maximum: the highest basic leaf answers
            a.xor(ecx, ecx);
            a.cpuid();
            a.mov(__dword_ptr[Results + 56], ecx);
            a.mov(eax, 0x80000001);
            a.cpuid();
            a.mov(__dword_ptr[Results + 36], ecx);
            a.mov(__dword_ptr[Results + 40], edx);
            a.mov(eax, 0x80000008);
            a.cpuid();
            a.mov(__dword_ptr[Results + 44], eax);
            a.mov(eax, 0x80000009);             // beyond the extended maximum: the highest basic leaf answers
            a.xor(ecx, ecx);
            a.cpuid();
            a.mov(__dword_ptr[Results + 48], eax);
            a.hlt();
        });
        p.Start(P.Code);
        p.RunToHalt();
        Assert.Equal(7u, p.Dword(Results));
        Assert.Equal("GenuineIntel", System.Text.Encoding.ASCII.GetString(p.M.Memory.Read(Results + 4, 12)));
        uint signature = p.Dword(Results + 16);
        Assert.Equal(6u, (signature >> 8) & 0xF);                       // family 6
        uint features = p.Dword(Results + 20);
        foreach (int bit in new[] { 0, 3, 4, 5, 8, 11, 13, 15, 24, 25, 26 }) // FPU PSE TSC MSR CX8 SEP PGE CMOV FXSR SSE SSE2
            Assert.True((features & (1u << bit)) != 0, $"feature bit {bit} missing");
        foreach (int bit in new[] { 1, 2, 6, 7, 9, 12, 14, 16, 19, 23 }) // VME DE PAE MCE APIC MTRR MCA PAT CLFSH MMX
            Assert.True((features & (1u << bit)) == 0, $"feature bit {bit} claimed");
        Assert.Equal(0u, p.Dword(Results + 24));
        Assert.Equal(0x80000008u, p.Dword(Results + 28));
        Assert.Equal(1u << 22, p.Dword(Results + 32));                    // leaf 7: RDPID
        Assert.Equal(1u << 20, p.Dword(Results + 52));                    // SMAP; no SMEP, FSGSBASE...
        Assert.Equal(1u << 22, p.Dword(Results + 56));
        Assert.Equal(1u, p.Dword(Results + 36));                          // LAHF/SAHF in 64-bit mode
        Assert.Equal(1u << 11 | 1u << 20 | 1u << 27 | 1u << 29, p.Dword(Results + 40)); // SYSCALL, NX, RDTSCP, LM and nothing else
        Assert.Equal(0x3020u, p.Dword(Results + 44));                     // 32 physical, 48 linear address bits
        Assert.Equal(0u, p.Dword(Results + 48));                          // leaf 7's EAX
    }

    [Fact]
    public void Rdtscp_and_rdpid_return_tsc_aux()
    {
        // kvm-unit-tests' tsc: WRMSR IA32_TSC_AUX, then RDTSCP's ECX and RDPID's register read it back.
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.mov(ecx, 0xC0000103);
            a.mov(eax, 0x100);
            a.xor(edx, edx);
            a.wrmsr();
            a.xor(ecx, ecx);
            a.rdtscp();
            a.mov(__dword_ptr[Results], ecx);
            a.db(0xF3, 0x0F, 0xC7, 0xFB);      // rdpid ebx
            a.mov(__dword_ptr[Results + 4], ebx);
            a.hlt();
        });
        p.Start(P.Code);
        p.RunToHalt();
        Assert.Equal(0x100u, p.Dword(Results));
        Assert.Equal(0x100u, p.Dword(Results + 4));
    }

    [Fact]
    public void A_p6_runs_the_hint_nop_space_as_multi_byte_nops()
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.mov(eax, 1);
            a.db(0x0F, 0x19, 0xC0);                    // reserved hint NOP, register form
            a.db(0x0F, 0x1E, 0x44, 0x00, 0x00);        // reserved hint NOP with a memory operand, never accessed
            a.nop(__dword_ptr[eax + 0x7FFF_FFFF]);      // 0F 1F /0: the long NOP, no memory access either
            a.mov(__dword_ptr[Results], eax);
            a.hlt();
        });
        p.Start(P.Code);
        p.RunToHalt();
        Assert.Equal(1u, p.Dword(Results));
    }

    [Fact]
    public void Msrs_read_back_what_was_written_and_the_tsc_agrees_with_rdtsc()
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.mov(ecx, 0x174);                  // SYSENTER_CS, _ESP, _EIP
            a.mov(eax, 0x60);
            a.xor(edx, edx);
            a.wrmsr();
            a.inc(ecx);
            a.mov(eax, 0x12345678);
            a.wrmsr();
            a.inc(ecx);
            a.mov(eax, unchecked((int)0x9ABCDEF0));
            a.wrmsr();
            a.mov(ecx, 0x175);
            a.rdmsr();
            a.mov(__dword_ptr[Results], eax);
            a.mov(ecx, 0x10);                   // IA32_TSC := 5_0000_0000h
            a.xor(eax, eax);
            a.mov(edx, 5);
            a.wrmsr();
            a.rdtsc();
            a.mov(__dword_ptr[Results + 4], eax);
            a.mov(__dword_ptr[Results + 8], edx);
            a.mov(ecx, 0x8B);                   // BIOS_SIGN_ID: written 0, read the revision
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(eax, 1);
            a.cpuid();
            a.mov(ecx, 0x8B);
            a.rdmsr();
            a.mov(__dword_ptr[Results + 12], edx);
            a.mov(ecx, 0x17);                   // PLATFORM_ID
            a.rdmsr();
            a.mov(__dword_ptr[Results + 16], eax);
            a.mov(ecx, 0x1A0);                  // MISC_ENABLE: fast strings
            a.rdmsr();
            a.mov(__dword_ptr[Results + 20], eax);
            a.hlt();
        });
        p.Start(P.Code);
        p.RunToHalt();
        Assert.Equal(0x12345678u, p.Dword(Results));
        Assert.Equal(5u, p.Dword(Results + 8));
        Assert.True(p.Dword(Results + 4) < 0x4000_0000, $"TSC low half {p.Dword(Results + 4)}: it counts on from the written value");
        Assert.Equal(0u, p.Dword(Results + 12));
        Assert.Equal(0u, p.Dword(Results + 16));
        Assert.Equal(1u, p.Dword(Results + 20) & 1);
    }

    [Fact]
    public void The_tsc_advances_with_host_time_at_one_ghz_between_two_reads()
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            var top = a.CreateLabel();
            a.rdtsc();
            a.mov(esi, eax);
            a.mov(edi, edx);
            a.mov(ecx, 200_000);
            a.Label(ref top);
            a.loop(top);
            a.rdtsc();
            a.sub(eax, esi);
            a.sbb(edx, edi);
            a.hlt();
        });
        p.Start(P.Code);
        long before = System.Diagnostics.Stopwatch.GetTimestamp();
        var s = p.RunToHalt();
        var hostNs = System.Diagnostics.Stopwatch.GetElapsedTime(before).TotalNanoseconds;
        ulong ticks = ((s.Rdx & 0xFFFF_FFFF) << 32) | (s.Rax & 0xFFFF_FFFF);
        // Both reads fall inside the host's measurement, so at 1 GHz the guest can never see more ticks than it.
        Assert.InRange(ticks, 1UL, (ulong)hostNs);
    }

    [Theory]
    [InlineData(0x1B, false)]   // IA32_APIC_BASE: no local APIC
    [InlineData(0xFE, false)]   // MTRRcap: MTRRs not advertised
    [InlineData(0x2FF, false)]  // MTRRdefType
    [InlineData(0x277, false)]  // IA32_PAT: not advertised
    [InlineData(0x17, true)]    // IA32_PLATFORM_ID is read-only
    public void Msrs_the_cpu_does_not_have_raise_gp_0(uint msr, bool write)
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.mov(ecx, msr);
            a.xor(eax, eax);
            a.xor(edx, edx);
            if (write) a.wrmsr(); else a.rdmsr();
            a.mov(edi, 0x77);
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal(0u, p.Dword((uint)s.Rsp));                 // error code 0
        Assert.Equal(P.Code + 9, p.Dword((uint)s.Rsp + 4));     // at the RDMSR/WRMSR
    }

    [Fact]
    public void Rdmsr_and_wrmsr_from_ring_3_raise_gp_0()
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.push(P.UserData);
            a.push(0x70000);
            a.push(P.UserCode);
            a.push((int)P.Code + 0x100);
            a.retf();
        });
        p.Write(P.Code + 0x100, a => { a.mov(ecx, 0x10); a.rdmsr(); });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal(0u, p.Dword((uint)s.Rsp));
        Assert.Equal(P.Code + 0x105, p.Dword((uint)s.Rsp + 4));
        Assert.Equal(P.UserCode, p.Dword((uint)s.Rsp + 8));
    }

    [Fact]
    public void Sysenter_enters_ring_0_from_the_msrs_and_sysexit_returns_to_ring_3()
    {
        using var p = new P();
        // SYSENTER_CS = 08h needs 08h code, 10h data, 18h ring-3 code, 20h ring-3 data: the fixture's GDT order.
        p.Write(P.Code, a =>
        {
            a.mov(ecx, 0x174);
            a.xor(edx, edx);
            a.mov(eax, P.KernelCode);
            a.wrmsr();
            a.inc(ecx);
            a.mov(eax, 0x7F000);
            a.wrmsr();
            a.inc(ecx);
            a.mov(eax, (int)P.Code + 0x200);
            a.wrmsr();
            a.push(P.UserData);
            a.push(0x70000);
            a.pushfd();
            a.or(__dword_ptr[esp], 0x200);       // IF on in ring 3, so SYSENTER's clearing it shows
            a.push(P.UserCode);
            a.push((int)P.Code + 0x100);
            a.iretd();
        });
        p.Write(P.Code + 0x100, a =>
        {
            a.mov(ax, P.UserData);              // DS was nulled on the way out to ring 3
            a.mov(ds, ax);
            a.mov(ebp, esp);
            a.sysenter();
        });
        p.Write(P.Code + 0x200, a =>
        {
            a.mov(__dword_ptr[Results], esp);
            a.mov(__word_ptr[Results + 4], cs);
            a.mov(__word_ptr[Results + 6], ss);
            a.pushfd();
            a.pop(__dword_ptr[Results + 8]);
            a.mov(edx, (int)P.Code + 0x300);
            a.mov(ecx, 0x6F000);
            a.sysexit();
        });
        p.Write(P.Code + 0x300, a =>
        {
            a.mov(__dword_ptr[Results + 12], esp);
            a.mov(__word_ptr[Results + 16], cs);
            a.mov(__word_ptr[Results + 18], ss);
            a.hlt();                            // #GP in ring 3 ends the test
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0x7F000u, p.Dword(Results));
        Assert.Equal(0x08, p.Word(Results + 4));
        Assert.Equal(0x10, p.Word(Results + 6));
        Assert.Equal(0u, p.Dword(Results + 8) & 0x200);
        Assert.Equal(0x6F000u, p.Dword(Results + 12));
        Assert.Equal(0x1B, p.Word(Results + 16));
        Assert.Equal(0x23, p.Word(Results + 18));
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal(0x70000UL, s.Rbp);
    }

    [Fact]
    public void Sysenter_with_a_null_sysenter_cs_raises_gp_0()
    {
        using var p = new P();
        p.Write(P.Code, a => a.sysenter());
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal(0u, p.Dword((uint)s.Rsp));
        Assert.Equal(P.Code, p.Dword((uint)s.Rsp + 4));
    }

    [Fact]
    public void Cmpxchg8b_stores_on_match_and_loads_on_mismatch_changing_only_zf()
    {
        using var p = new P();
        p.SetDword(Results, 0x11111111);
        p.SetDword(Results + 4, 0x22222222);
        p.SetDword(Results + 8, 0x33333333);
        p.SetDword(Results + 12, 0x44444444);
        p.Write(P.Code, a =>
        {
            a.mov(eax, 0x11111111);
            a.mov(edx, 0x22222222);
            a.mov(ebx, unchecked((int)0xAAAAAAAA));
            a.mov(ecx, unchecked((int)0xBBBBBBBB));
            a.stc();
            a.@lock.cmpxchg8b(__qword_ptr[Results]);   // match: stores ECX:EBX, ZF=1, CF kept
            a.pushfd();
            a.pop(esi);
            a.mov(eax, 0);
            a.mov(edx, 0);
            a.cmpxchg8b(__qword_ptr[Results + 8]);     // mismatch: EDX:EAX := memory, ZF=0
            a.pushfd();
            a.pop(ebp);
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0xAAAAAAAAu, p.Dword(Results));
        Assert.Equal(0xBBBBBBBBu, p.Dword(Results + 4));
        Assert.Equal(0x41UL, s.Rsi & 0x41);                 // ZF and the CF from STC
        Assert.Equal(0x33333333UL, s.Rax);
        Assert.Equal(0x44444444UL, s.Rdx);
        Assert.Equal(0x33333333u, p.Dword(Results + 8));
        Assert.Equal(0UL, s.Rbp & 0x40);
    }

    [Fact]
    public void Cmpxchg8b_with_a_register_operand_is_ud()
    {
        using var p = new P();
        p.Write(P.Code, a => a.db(0x0F, 0xC7, 0xC8));     // cmpxchg8b eax
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(6UL, s.Rdi);
        Assert.Equal(P.Code, p.Dword((uint)s.Rsp));
    }

    [Fact]
    public void Global_pages_survive_a_cr3_load_while_cr4_pge_is_set_and_invlpg_drops_them()
    {
        using var p = new P();
        const uint dir = 0x30000, table0 = 0x31000, table1 = 0x32000;
        var identity = new byte[4096];
        for (uint i = 0; i < 1024; i++) BitConverter.GetBytes(i * 4096 | 3).CopyTo(identity, i * 4);
        p.M.Memory.Write(table0, identity);
        p.SetDword(table1, 0x50000 | 0x103);                // 400000h -> 50000h, global
        p.SetDword(table1 + 4, 0x52000 | 0x003);            // 401000h -> 52000h, not global
        p.M.Memory.Write(dir, BitConverter.GetBytes(table0 | 3).Concat(BitConverter.GetBytes(table1 | 3)).ToArray());
        p.SetDword(0x50000, 0xA0); p.SetDword(0x51000, 0xA1);
        p.SetDword(0x52000, 0xB0); p.SetDword(0x53000, 0xB1);
        p.Write(P.Code, a =>
        {
            a.mov(eax, dir);
            a.mov(cr3, eax);
            a.mov(eax, 0x90);                               // PSE | PGE
            a.mov(cr4, eax);
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)0x80000000));
            a.mov(cr0, eax);
            a.mov(ebx, __dword_ptr[0x400000]);              // fill both TLB entries
            a.mov(ebx, __dword_ptr[0x401000]);
            a.mov(__dword_ptr[table1], 0x51000 | 0x103);    // remap both pages one frame up
            a.mov(__dword_ptr[table1 + 4], 0x53000 | 0x003);
            a.mov(eax, dir);
            a.mov(cr3, eax);
            a.mov(esi, __dword_ptr[0x400000]);              // global: still the old frame
            a.mov(edi, __dword_ptr[0x401000]);              // flushed: the new frame
            a.invlpg(__[0x400000]);
            a.mov(ebp, __dword_ptr[0x400000]);              // INVLPG drops even a global entry
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0xA0UL, s.Rsi);
        Assert.Equal(0xB1UL, s.Rdi);
        Assert.Equal(0xA1UL, s.Rbp);
    }

    [Theory]
    [InlineData("vmcall")]
    [InlineData("vmmcall")]
    public void Hypercall_instructions_raise_invalid_opcode_on_a_cpu_without_vmx_or_svm(string instruction)
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.mov(edi, P.NoException);
            if (instruction == "vmcall") a.vmcall(); else a.vmmcall();
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(6UL, s.Rdi);
        Assert.Equal(P.Code + 5, p.Dword((uint)s.Rsp));    // the faulting instruction, after the 5-byte MOV
    }
}
