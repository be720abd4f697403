using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using P = VirtShell.Tests.Cpu.ProtectedModeMachine;

namespace VirtShell.Tests.Cpu;

/// <summary>Far CALL/JMP through call gates: stacks, parameter copies, RETF back, and the faults with their error codes.</summary>
public sealed class CallGateTests
{
    private const uint Results = 0x20000, Ring3 = P.Code + 0x100, Ring0 = P.Code + 0x200, Ring1 = P.Code + 0x300;
    private const ushort Gate = 0x30, Ring1Code = 0x40;

    /// <summary>Ring-0 code at <see cref="P.Code"/> that drops to ring 3 at <see cref="Ring3"/> with ESP 70000h.</summary>
    private static void EnterRing3(P p) => p.Write(P.Code, a =>
    {
        a.push(P.UserData);
        a.push(0x70000);
        a.push(P.UserCode);
        a.push((int)Ring3);
        a.retf();
    });

    private static void FarCall(Assembler a, ushort selector) { a.db(0x9A); a.dd(0); a.dw(selector); }
    private static void FarJump(Assembler a, ushort selector) { a.db(0xEA); a.dd(0); a.dw(selector); }

    [Fact]
    public void Call_through_a_32_bit_gate_to_ring_0_switches_stacks_copies_parameters_and_retf_returns()
    {
        using var p = new P();
        p.SetGdt(Gate / 8, P.Gate(P.KernelCode, Ring0, 0xEC, paramCount: 2));
        EnterRing3(p);
        p.Write(Ring3, a =>
        {
            a.mov(ax, P.UserData);              // 4 bytes
            a.mov(ds, ax);                      // 3 (Iced writes the o16 prefix)
            a.mov(es, ax);                      // 3
            a.push(0x1111);                     // 5
            a.push(0x2222);                     // 5
            FarCall(a, Gate | 3);               // 7: returns to Ring3 + 27
            a.mov(__dword_ptr[Results], esp);
            a.mov(__word_ptr[Results + 4], es);
            a.mov(__word_ptr[Results + 6], cs);
            a.hlt();                            // #GP in ring 3 ends the test
        });
        p.Write(Ring0, a =>
        {
            a.mov(__dword_ptr[Results + 8], esp);
            a.mov(esi, esp);                    // keep the frame: the final #GP reuses this stack
            a.mov(edi, Results + 0x40);
            a.mov(ecx, 6);
            a.rep.movsd();
            a.mov(__word_ptr[Results + 12], cs);
            a.mov(__word_ptr[Results + 14], ss);
            a.mov(ax, P.KernelData);
            a.mov(es, ax);                      // ring-0 data: nulled by the return to ring 3
            a.retf(8);
        });
        p.Start(P.Code);
        var s = p.RunToHalt();

        Assert.Equal(P.Stack0 - 24, p.Dword(Results + 8));
        const uint inner = Results + 0x40;
        Assert.Equal(Ring3 + 27, p.Dword(inner));           // return EIP
        Assert.Equal(P.UserCode, p.Dword(inner + 4) & 0xFFFF);
        Assert.Equal(0x2222u, p.Dword(inner + 8));         // parameters in their order
        Assert.Equal(0x1111u, p.Dword(inner + 12));
        Assert.Equal(0x70000u - 8, p.Dword(inner + 16));   // caller's ESP and SS
        Assert.Equal(P.UserData, p.Dword(inner + 20) & 0xFFFF);
        Assert.Equal(P.KernelCode, p.Word(Results + 12));
        Assert.Equal(P.KernelData, p.Word(Results + 14));
        Assert.Equal(0x70000u, p.Dword(Results));          // RETF 8 released the parameters
        Assert.Equal(0, p.Word(Results + 4));
        Assert.Equal(P.UserCode, p.Word(Results + 6));
        Assert.Equal(13UL, s.Rdi);
    }

    [Fact]
    public void Call_through_a_16_bit_gate_pushes_16_bit_cs_ip_at_the_same_privilege()
    {
        using var p = new P();
        const uint caller = 0x7000, handler = 0x8000;
        p.SetGdt(Gate / 8, P.Gate(P.KernelCode, handler, 0x84));
        p.Write(caller, a =>
        {
            a.mov(ebx, esp);                    // 2 bytes
            FarCall(a, Gate);                   // 7: returns to 7009h
            a.mov(ecx, esp);
            a.hlt();
        });
        p.Write(handler, a =>
        {
            a.mov(edx, esp);
            a.mov(esi, __dword_ptr[esp]);
            a.db(0x66, 0xCB);                   // o16 retf
        });
        p.Start(caller);
        var s = p.RunToHalt();
        Assert.Equal(P.Stack0 - 4, s.Rdx);
        Assert.Equal(0x0008_7009UL, s.Rsi);                 // CS:IP as two words
        Assert.Equal(P.Stack0, s.Rcx);
        Assert.Equal(P.KernelCode, s.Cs.Selector);
    }

    [Fact]
    public void Jmp_through_a_gate_keeps_the_stack_and_cpl()
    {
        using var p = new P();
        p.SetGdt(Gate / 8, P.Gate(P.KernelCode, Ring0, 0x8C));
        p.Write(P.Code, a => FarJump(a, Gate));
        p.Write(Ring0, a => { a.mov(eax, 0x99); a.hlt(); });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0x99UL, s.Rax);
        Assert.Equal(P.Stack0, s.Rsp);
        Assert.Equal(P.KernelCode, s.Cs.Selector);
    }

    [Fact]
    public void Call_through_a_gate_to_ring_1_takes_the_ring_1_stack_from_the_tss()
    {
        using var p = new P();
        p.SetGdt(Ring1Code / 8, P.Segment(0, 0xFFFF_FFFF, 0xBA));
        p.SetGdt(9, P.Segment(0, 0xFFFF_FFFF, 0xB2));                       // 48h: ring-1 data
        p.SetDword(P.MainTss + 0x0C, 0x78000);                              // ESP1
        p.SetDword(P.MainTss + 0x10, 0x48 | 1);                             // SS1
        p.SetGdt(Gate / 8, P.Gate(Ring1Code, Ring1, 0xEC));
        EnterRing3(p);
        p.Write(Ring3, a => FarCall(a, Gate | 3));
        p.Write(Ring1, a => { a.mov(ebx, esp); a.mov(ecx, ss); a.mov(edx, cs); a.hlt(); });   // HLT at ring 1: #GP
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0x78000UL - 16, s.Rbx);
        Assert.Equal(0x49UL, s.Rcx);
        Assert.Equal(0x41UL, s.Rdx);
        Assert.Equal(13UL, s.Rdi);
    }

    /// <summary>Ring-3 code at <see cref="Ring3"/> does one far transfer to <paramref name="selector"/>; returns the fault's vector and error code.</summary>
    private static (ulong Vector, uint ErrorCode, uint Eip) FaultFromRing3(P p, ushort selector, bool jump = false)
    {
        EnterRing3(p);
        p.Write(Ring3, a => { if (jump) FarJump(a, selector); else FarCall(a, selector); });
        p.Write(Ring0, a => a.hlt());
        p.Write(Ring1, a => a.hlt());
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(P.Stack0 - 24, s.Rsp);    // error code, EIP, CS, EFLAGS, ESP, SS on the ring-0 stack
        return (s.Rdi, p.Dword((uint)s.Rsp), p.Dword((uint)s.Rsp + 4));
    }

    [Fact]
    public void A_gate_more_privileged_than_the_caller_is_gp_with_the_gate_selector()
    {
        using var p = new P();
        p.SetGdt(Gate / 8, P.Gate(P.KernelCode, Ring0, 0x8C));             // DPL 0
        Assert.Equal((13UL, (uint)Gate, Ring3), FaultFromRing3(p, Gate | 3));
    }

    [Fact]
    public void A_gate_with_rpl_above_its_dpl_is_gp_with_the_gate_selector()
    {
        using var p = new P();
        p.SetGdt(Gate / 8, P.Gate(P.KernelCode, Ring0, 0xAC));             // DPL 1, called from ring 3
        Assert.Equal((13UL, (uint)Gate, Ring3), FaultFromRing3(p, Gate | 3));
    }

    [Fact]
    public void A_gate_not_present_is_np_with_the_gate_selector()
    {
        using var p = new P();
        p.SetGdt(Gate / 8, P.Gate(P.KernelCode, Ring0, 0x6C));
        Assert.Equal((11UL, (uint)Gate, Ring3), FaultFromRing3(p, Gate | 3));
    }

    [Fact]
    public void A_gate_to_a_code_segment_not_present_is_np_with_the_code_selector()
    {
        using var p = new P();
        p.SetGdt(Ring1Code / 8, P.Segment(0, 0xFFFF_FFFF, 0x1A));           // not present, DPL 0
        p.SetGdt(Gate / 8, P.Gate(Ring1Code, Ring0, 0xEC));
        Assert.Equal((11UL, (uint)Ring1Code, Ring3), FaultFromRing3(p, Gate | 3));
    }

    [Fact]
    public void A_gate_naming_a_data_segment_is_gp_with_that_selector()
    {
        using var p = new P();
        p.SetGdt(Gate / 8, P.Gate(P.KernelData, Ring0, 0xEC));
        Assert.Equal((13UL, (uint)P.KernelData, Ring3), FaultFromRing3(p, Gate | 3));
    }

    [Fact]
    public void A_gate_with_a_null_code_selector_is_gp_0()
    {
        using var p = new P();
        p.SetGdt(Gate / 8, P.Gate(0, Ring0, 0xEC));
        Assert.Equal((13UL, 0u, Ring3), FaultFromRing3(p, Gate | 3));
    }

    [Fact]
    public void Jmp_through_a_gate_to_a_more_privileged_segment_is_gp_with_the_code_selector()
    {
        using var p = new P();
        p.SetGdt(Gate / 8, P.Gate(P.KernelCode, Ring0, 0xEC));
        Assert.Equal((13UL, (uint)P.KernelCode, Ring3), FaultFromRing3(p, Gate | 3, jump: true));
    }

    [Fact]
    public void A_gate_offset_beyond_the_code_limit_is_gp_0()
    {
        using var p = new P();
        p.SetGdt(Ring1Code / 8, P.Segment(0, 0xFFF, 0xBA, big: true));
        p.SetGdt(9, P.Segment(0, 0xFFFF_FFFF, 0xB2));
        p.SetDword(P.MainTss + 0x0C, 0x78000);
        p.SetDword(P.MainTss + 0x10, 0x48 | 1);
        p.SetGdt(Gate / 8, P.Gate(Ring1Code, 0x2000, 0xEC));
        Assert.Equal((13UL, 0u, Ring3), FaultFromRing3(p, Gate | 3));
    }

    [Fact]
    public void An_inner_stack_of_the_wrong_privilege_in_the_tss_is_ts_with_its_selector()
    {
        using var p = new P();
        p.SetGdt(Ring1Code / 8, P.Segment(0, 0xFFFF_FFFF, 0xBA));
        p.SetDword(P.MainTss + 0x0C, 0x78000);
        p.SetDword(P.MainTss + 0x10, P.UserData);                          // SS1 = a ring-3 segment
        p.SetGdt(Gate / 8, P.Gate(Ring1Code, Ring1, 0xEC));
        Assert.Equal((10UL, (uint)P.UserData & 0xFFFC, Ring3), FaultFromRing3(p, Gate | 3));
    }

    [Fact]
    public void An_inner_stack_not_present_is_ss_with_its_selector()
    {
        using var p = new P();
        p.SetGdt(Ring1Code / 8, P.Segment(0, 0xFFFF_FFFF, 0xBA));
        p.SetGdt(9, P.Segment(0, 0xFFFF_FFFF, 0x32));                       // ring-1 data, not present
        p.SetDword(P.MainTss + 0x0C, 0x78000);
        p.SetDword(P.MainTss + 0x10, 0x48 | 1);
        p.SetGdt(Gate / 8, P.Gate(Ring1Code, Ring1, 0xEC));
        Assert.Equal((12UL, 0x48u, Ring3), FaultFromRing3(p, Gate | 3));
    }

    [Fact]
    public void Ring_3_under_paging_reaches_ring_0_through_supervisor_only_tables_and_stacks()
    {
        using var p = new P();
        const uint dir = 0x38000, table = 0x39000;
        var entries = new byte[4096];
        for (uint i = 0; i < 1024; i++) BitConverter.GetBytes(i * 4096 | 3).CopyTo(entries, i * 4);   // supervisor...
        foreach (uint page in new uint[] { 0x10, 0x20, 0x6F })                                          // ...but code, results, user stack
            BitConverter.GetBytes(page * 4096 | 7).CopyTo(entries, page * 4);
        p.M.Memory.Write(table, entries);
        p.SetDword(dir, table | 7);
        p.SetGdt(Gate / 8, P.Gate(P.KernelCode, Ring0, 0xEC, paramCount: 1));
        p.SetIdt(0x30, P.Gate(P.KernelCode, Ring0 + 0x80, 0xEE));
        p.Write(P.Code, a =>
        {
            a.mov(eax, dir);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)0x80000000));
            a.mov(cr0, eax);
            a.push(P.UserData);
            a.push(0x70000);
            a.push(P.UserCode);
            a.push((int)Ring3);
            a.retf();
        });
        p.Write(Ring3, a =>
        {
            a.mov(ax, P.UserData);
            a.mov(ds, ax);
            a.push(0x4444);
            FarCall(a, Gate | 3);
            a.@int(0x30);
            a.hlt();
        });
        p.Write(Ring0, a => { a.mov(ebx, __dword_ptr[esp + 8]); a.retf(4); });              // the copied parameter
        p.Write(Ring0 + 0x80, a => { a.mov(ecx, __dword_ptr[esp + 4]); a.iretd(); });       // the interrupted CS
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0x4444UL, s.Rbx);
        Assert.Equal((ulong)P.UserCode, s.Rcx);
        Assert.Equal(13UL, s.Rdi);                                        // the final HLT in ring 3
        Assert.Equal(0x70000u, p.Dword((uint)s.Rsp + 16));                // its frame: ESP after RETF 4 released the parameter
    }
}
