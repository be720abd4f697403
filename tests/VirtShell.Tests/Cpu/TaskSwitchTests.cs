using Xunit;
using static Iced.Intel.AssemblerRegisters;
using P = VirtShell.Tests.Cpu.ProtectedModeMachine;

namespace VirtShell.Tests.Cpu;

/// <summary>Hardware task switches: JMP/CALL to a TSS or task gate, IRET with NT, exceptions through IDT task gates.</summary>
public sealed class TaskSwitchTests
{
    private const uint Results = 0x20000, TaskTss = 0x4000, TaskCode = P.Code + 0x400, TaskStack = 0x60000;
    private const ushort TaskTssSelector = 0x50, TaskGateSelector = 0x58;
    private const ushort NoLink = 0x5555;

    /// <summary>The fixture plus task B: a 32-bit TSS (GDT 50h, available) that starts at <see cref="TaskCode"/>, and a task gate to it (58h).</summary>
    private static P WithTask()
    {
        var p = new P();
        p.SetGdt(TaskTssSelector / 8, P.Segment(TaskTss, 0x67, 0x89, big: false));
        p.SetGdt(TaskGateSelector / 8, P.Gate(TaskTssSelector, 0, 0x85));
        WriteTss32(p, TaskTss, TaskCode, TaskStack, eax: 0x1234);
        return p;
    }

    private static void WriteTss32(P p, uint tss, uint eip, uint esp, uint eax = 0, uint eflags = 2, ushort ds = P.KernelData, uint cr3 = 0)
    {
        p.M.Memory.Write(tss, new byte[0x68]);
        p.SetDword(tss, NoLink);
        p.SetDword(tss + 0x1C, cr3);
        p.SetDword(tss + 0x20, eip);
        p.SetDword(tss + 0x24, eflags);
        p.SetDword(tss + 0x28, eax);
        p.SetDword(tss + 0x38, esp);
        p.SetDword(tss + 0x48, P.KernelData);           // ES
        p.SetDword(tss + 0x4C, P.KernelCode);           // CS
        p.SetDword(tss + 0x50, P.KernelData);           // SS
        p.SetDword(tss + 0x54, ds);                     // DS
    }

    [Fact]
    public void Jmp_to_a_tss_saves_the_old_task_loads_the_new_one_and_moves_the_busy_bit()
    {
        using var p = WithTask();
        p.Write(P.Code, a =>
        {
            a.mov(eax, 0xAAAA);                 // 5 bytes
            a.mov(ebx, 0xBBBB);                 // 5
            a.db(0xEA); a.dd(0); a.dw(TaskTssSelector);   // 7: the old task resumes at Code + 17
            a.hlt();
        });
        p.Write(TaskCode, a =>
        {
            a.mov(__dword_ptr[Results], eax);
            a.str(__word_ptr[Results + 4]);
            a.mov(__dword_ptr[Results + 8], esp);
            a.pushfd();
            a.pop(__dword_ptr[Results + 12]);
            a.mov(eax, cr0);
            a.mov(__dword_ptr[Results + 16], eax);
            a.hlt();
        });
        p.Start(P.Code);
        p.RunToHalt();

        Assert.Equal(P.Code + 17, p.Dword(P.MainTss + 0x20));         // saved EIP, EAX, EBX, ESP, CS, SS
        Assert.Equal(0xAAAAu, p.Dword(P.MainTss + 0x28));
        Assert.Equal(0xBBBBu, p.Dword(P.MainTss + 0x34));
        Assert.Equal(P.Stack0, p.Dword(P.MainTss + 0x38));
        Assert.Equal(P.KernelCode, p.Word(P.MainTss + 0x4C));
        Assert.Equal(P.KernelData, p.Word(P.MainTss + 0x50));
        Assert.Equal(0x89, p.GdtAccessByte(P.MainTssSelector / 8));   // old task no longer busy
        Assert.Equal(0x8B, p.GdtAccessByte(TaskTssSelector / 8));     // new task busy
        Assert.Equal(NoLink, p.Word(TaskTss));                        // JMP does not link
        Assert.Equal(0x1234u, p.Dword(Results));
        Assert.Equal(TaskTssSelector, p.Word(Results + 4));
        Assert.Equal(TaskStack, p.Dword(Results + 8));
        Assert.Equal(0u, p.Dword(Results + 12) & 0x4000);             // NT clear
        Assert.Equal(8u, p.Dword(Results + 16) & 8);                   // CR0.TS set
    }

    [Fact]
    public void Call_through_a_task_gate_nests_and_iret_returns_to_the_caller()
    {
        using var p = WithTask();
        p.Write(P.Code, a =>
        {
            a.mov(eax, 0xAAAA);
            a.db(0x9A); a.dd(0); a.dw(TaskGateSelector);
            a.mov(__dword_ptr[Results + 20], eax);
            a.str(__word_ptr[Results + 24]);
            a.pushfd();
            a.pop(__dword_ptr[Results + 28]);
            a.hlt();
        });
        p.Write(TaskCode, a =>
        {
            a.pushfd();
            a.pop(__dword_ptr[Results]);
            a.mov(ax, __word_ptr[TaskTss]);
            a.mov(__word_ptr[Results + 4], ax);
            a.mov(eax, 0x77);
            a.iretd();
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();

        Assert.Equal(0x4000u, p.Dword(Results) & 0x4000);             // NT set in the nested task
        Assert.Equal(P.MainTssSelector, p.Word(Results + 4));          // back link
        Assert.Equal(0xAAAAu, p.Dword(Results + 20));                  // the caller's registers are back
        Assert.Equal(P.MainTssSelector, p.Word(Results + 24));
        Assert.Equal(0u, p.Dword(Results + 28) & 0x4000);
        Assert.Equal(0x8B, p.GdtAccessByte(P.MainTssSelector / 8));    // the caller stayed busy
        Assert.Equal(0x89, p.GdtAccessByte(TaskTssSelector / 8));      // IRET freed the nested task
        Assert.Equal(0x77u, p.Dword(TaskTss + 0x28));                  // its state was saved on the way out
        uint resume = p.Dword(TaskTss + 0x20);                         // just after its IRET
        Assert.Equal(new byte[] { 0xCF, 0xF4 }, p.M.Memory.Read(resume - 1, 2));
        Assert.Equal(0u, p.Dword(TaskTss + 0x24) & 0x4000);             // with NT clear
        Assert.Equal(P.Stack0, s.Rsp);
    }

    [Fact]
    public void An_exception_through_a_task_gate_pushes_its_error_code_on_the_new_tasks_stack()
    {
        using var p = WithTask();
        p.SetIdt(13, P.Gate(TaskTssSelector, 0, 0x85));
        p.Write(P.Code, a =>
        {
            a.mov(ax, 0x800);                   // 4 bytes; beyond the GDT limit
            a.mov(ds, ax);                      // #GP(800h)
            a.hlt();
        });
        p.Write(TaskCode, a =>
        {
            a.pop(eax);
            a.mov(ebx, esp);
            a.movzx(ecx, __word_ptr[TaskTss]);
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0x800UL, s.Rax);
        Assert.Equal((ulong)TaskStack, s.Rbx);
        Assert.Equal((ulong)P.MainTssSelector, s.Rcx);
        Assert.Equal(P.Code + 4, p.Dword(P.MainTss + 0x20));           // the faulting instruction, to restart
        Assert.Equal(TaskTssSelector, s.Tr.Selector);
    }

    [Fact]
    public void A_double_fault_through_a_task_gate_runs_on_a_fresh_stack_after_a_stack_overflow()
    {
        using var p = WithTask();
        p.SetIdt(8, P.Gate(TaskTssSelector, 0, 0x85));
        p.SetGdt(12, P.Segment(0x70000, 0xFFF, 0x92));                 // 60h: a 4 KiB stack
        p.Write(P.Code, a =>
        {
            a.mov(ax, 0x60);                    // 4
            a.mov(ss, ax);                      // 3 (Iced writes the o16 prefix)
            a.mov(esp, 8);                      // 5
            a.@int(0x30);                       // the frame does not fit: #SS, whose frame does not fit: #DF
            a.hlt();
        });
        p.Write(TaskCode, a => { a.pop(eax); a.mov(ebx, esp); a.hlt(); });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0UL, s.Rax);                                      // #DF's error code
        Assert.Equal((ulong)TaskStack, s.Rbx);
        Assert.Equal(P.Code + 12, p.Dword(P.MainTss + 0x20));
        Assert.Equal(8u, p.Dword(P.MainTss + 0x38));                   // the overflowed ESP and its SS
        Assert.Equal(0x60, p.Word(P.MainTss + 0x50));
    }

    [Fact]
    public void A_bad_segment_in_the_new_tss_faults_inside_the_new_task()
    {
        using var p = WithTask();
        WriteTss32(p, TaskTss, TaskCode, TaskStack, ds: 0x800);
        p.Write(P.Code, a => { a.db(0xEA); a.dd(0); a.dw(TaskTssSelector); });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(10UL, s.Rdi);                                     // #TS
        Assert.Equal(TaskStack - 16, s.Rsp);                           // on the new task's stack
        Assert.Equal(0x800u, p.Dword((uint)s.Rsp));
        Assert.Equal(TaskCode, p.Dword((uint)s.Rsp + 4));              // at the new task's first instruction
        Assert.Equal(TaskTssSelector, s.Tr.Selector);
        Assert.Equal(P.Code + 7, p.Dword(P.MainTss + 0x20));
    }

    [Fact]
    public void Jmp_to_a_busy_tss_is_gp_with_its_selector()
    {
        using var p = WithTask();
        p.Write(P.Code, a => { a.db(0xEA); a.dd(0); a.dw(P.MainTssSelector); });   // the running task
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal((uint)P.MainTssSelector, p.Dword((uint)s.Rsp));
        Assert.Equal(P.Code, p.Dword((uint)s.Rsp + 4));
    }

    [Fact]
    public void A_tss_below_the_minimum_limit_is_ts_with_its_selector()
    {
        using var p = WithTask();
        p.SetGdt(TaskTssSelector / 8, P.Segment(TaskTss, 0x50, 0x89, big: false));
        p.Write(P.Code, a => { a.db(0x9A); a.dd(0); a.dw(TaskGateSelector); });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(10UL, s.Rdi);
        Assert.Equal((uint)TaskTssSelector, p.Dword((uint)s.Rsp));
        Assert.Equal(0x89, p.GdtAccessByte(TaskTssSelector / 8));
        Assert.Equal(0x8B, p.GdtAccessByte(P.MainTssSelector / 8));
    }

    [Fact]
    public void Iret_with_nt_to_a_back_link_that_is_not_busy_is_ts_with_the_link()
    {
        using var p = WithTask();
        p.SetDword(P.MainTss, TaskTssSelector);                        // links to an available TSS
        p.Write(P.Code, a =>
        {
            a.pushfd();
            a.or(__dword_ptr[esp], 0x4000);
            a.popfd();
            a.iretd();                          // at Code + 9
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(10UL, s.Rdi);
        Assert.Equal((uint)TaskTssSelector, p.Dword((uint)s.Rsp));
        Assert.Equal(P.Code + 9, p.Dword((uint)s.Rsp + 4));
    }

    [Fact]
    public void A_task_switch_loads_cr3_from_the_new_tss()
    {
        using var p = WithTask();
        const uint dir1 = 0x30000, dir2 = 0x34000, table0 = 0x31000, table1 = 0x32000, table2 = 0x33000;
        var identity = new byte[4096];
        for (uint i = 0; i < 1024; i++) BitConverter.GetBytes(i * 4096 | 3).CopyTo(identity, i * 4);
        p.M.Memory.Write(table0, identity);
        p.SetDword(table1, 0x50000 | 3);                                // 400000h -> 50000h in the old space
        p.SetDword(table2, 0x51000 | 3);                                // and -> 51000h in the new one
        p.SetDword(dir1, table0 | 3); p.SetDword(dir1 + 4, table1 | 3);
        p.SetDword(dir2, table0 | 3); p.SetDword(dir2 + 4, table2 | 3);
        p.SetDword(0x50000, 0x1DD); p.SetDword(0x51000, 0x2EE);
        WriteTss32(p, TaskTss, TaskCode, TaskStack, cr3: dir2);
        p.Write(P.Code, a =>
        {
            a.mov(eax, dir1);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)0x80000000));
            a.mov(cr0, eax);
            a.mov(esi, __dword_ptr[0x400000]);
            a.db(0xEA); a.dd(0); a.dw(TaskTssSelector);
        });
        p.Write(TaskCode, a => { a.mov(edi, __dword_ptr[0x400000]); a.hlt(); });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0x1DDu, p.Dword(P.MainTss + 0x40));               // ESI, read through the old address space
        Assert.Equal(0x2EEUL, s.Rdi);                                  // and the same address through the new one
        Assert.Equal((ulong)dir2, s.Cr3);
        Assert.Equal(0u, p.Dword(P.MainTss + 0x1C));                   // CR3 is not saved in the outgoing TSS
    }

    [Fact]
    public void Jmp_to_a_16_bit_tss_loads_16_bit_state()
    {
        using var p = WithTask();
        const uint tss16 = 0x5000, code16 = 0x7400;
        p.SetGdt(14, P.Segment(tss16, 0x2B, 0x81, big: false));        // 70h: 16-bit TSS
        p.SetGdt(15, P.Segment(0, 0xFFFF, 0x9A, big: false));           // 78h: 16-bit code
        var tss = new byte[0x2C];
        void W(int at, ushort v) => BitConverter.GetBytes(v).CopyTo(tss, at);
        W(0x0E, (ushort)code16); W(0x10, 0x0002); W(0x12, 0x4321); W(0x1A, 0x6000);   // IP FLAGS AX SP
        W(0x22, P.KernelData); W(0x24, 0x78); W(0x26, P.KernelData); W(0x28, P.KernelData);
        p.M.Memory.Write(tss16, tss);
        p.Write(P.Code, a => { a.db(0xEA); a.dd(0); a.dw(0x70); });
        p.Write(code16, a => { a.mov(bx, sp); a.hlt(); }, bitness: 16);
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0xFFFF_4321UL, s.Rax);
        Assert.Equal(0x6000UL, s.Rbx & 0xFFFF);
        Assert.Equal(0x78, s.Cs.Selector);
        Assert.Equal(0x70, s.Tr.Selector);
        Assert.Equal(0x83, p.GdtAccessByte(14));
        Assert.Equal(0, s.Fs.Selector);
    }

    [Fact]
    public void Ltr_marks_the_tss_busy_and_refuses_a_busy_one()
    {
        using var p = WithTask();
        p.Write(P.Code, a =>
        {
            a.mov(ax, TaskTssSelector);
            a.ltr(ax);
            a.str(bx);
            a.ltr(ax);                          // now busy: #GP(50h), at Code + 12 (Iced writes o16 on all three)
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0x8B, p.GdtAccessByte(TaskTssSelector / 8));
        Assert.Equal((ulong)TaskTssSelector, s.Rbx & 0xFFFF);
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal((uint)TaskTssSelector, p.Dword((uint)s.Rsp));
        Assert.Equal(P.Code + 12, p.Dword((uint)s.Rsp + 4));
    }
}
