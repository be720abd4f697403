using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using P = VirtShell.Tests.Cpu.ProtectedModeMachine;

namespace VirtShell.Tests.Cpu;

/// <summary>Virtual-8086 mode: entry by IRET and task switch, real-mode addressing, IOPL-sensitive instructions, I/O bitmap, paging.</summary>
public sealed class V86Tests
{
    private const uint Results = 0x20000, V86Code = 0x30000, Monitor21 = P.Code + 0x200;
    private const ushort V86Cs = 0x3000, V86Ss = 0x4000, V86Sp = 0xFFF0;
    private const uint Vm = 0x20000, Iopl3 = 0x3000;

    private static void WriteV86(P p, Action<Assembler> code) => p.M.Memory.Write(V86Code, TestMachine.Assemble(16, 0, code));

    /// <summary>Ring-0 code that IRETs into virtual-8086 mode at 3000:0000 with SS:SP 4000:FFF0 and DS = ES = 3000h.</summary>
    private static void EnterV86(P p, uint eflags) => p.Write(P.Code, a =>
    {
        a.push(0);                               // GS
        a.push(0);                               // FS
        a.push(V86Cs);                           // DS
        a.push(V86Cs);                           // ES
        a.push(V86Ss);
        a.push(V86Sp);
        a.push((int)(eflags | Vm | 2));
        a.push(V86Cs);
        a.push(0);
        a.iretd();
    });

    /// <summary>The exception frame a stub found on the ring-0 stack after leaving virtual-8086 mode.</summary>
    private static (uint Error, uint Eip, uint Cs, uint Eflags, uint Esp, uint Ss, uint Es, uint Ds) V86Frame(P p, ulong esp)
    {
        uint at = (uint)esp;
        return (p.Dword(at), p.Dword(at + 4), p.Dword(at + 8) & 0xFFFF, p.Dword(at + 12), p.Dword(at + 16),
                p.Dword(at + 20) & 0xFFFF, p.Dword(at + 24) & 0xFFFF, p.Dword(at + 28) & 0xFFFF);
    }

    [Fact]
    public void Iret_enters_v86_mode_which_addresses_like_real_mode_and_interrupts_go_to_ring_0_with_its_segments()
    {
        using var p = new P();
        p.SetIdt(0x21, P.Gate(P.KernelCode, Monitor21, 0xEE));
        EnterV86(p, Iopl3);
        WriteV86(p, a =>
        {
            a.mov(ax, 0x1234);
            a.mov(__word_ptr[0x100], ax);       // DS 3000h: linear 30100h
            a.mov(bx, 0x5000);
            a.mov(es, bx);
            a.xor(di, di);
            a.mov(ax, 0xBEEF);
            a.stosw();                          // ES 5000h: linear 50000h
            a.cli();
            a.sti();                            // IOPL 3: allowed
            a.pushf();
            a.pop(bp);                          // the monitor below keeps EBP
            a.@int(0x21);
            a.mov(dx, 0x77);
            a.hlt();                            // #GP(0) to ring 0
        });
        p.Write(Monitor21, a =>
        {
            a.mov(bx, ds);                      // nulled on the way in
            a.mov(ax, P.KernelData);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(esi, esp);
            a.mov(edi, Results);
            a.mov(ecx, 9);
            a.rep.movsd();
            a.mov(__word_ptr[Results + 0x40], bx);
            a.iretd();                          // back to virtual-8086 mode
        });
        p.Start(P.Code);
        var s = p.RunToHalt();

        Assert.Equal(0x1234, p.Word(0x30100));
        Assert.Equal(0xBEEF, p.Word(0x50000));
        Assert.Equal(0x77UL, s.Rdx & 0xFFFF);
        Assert.Equal(0x3200UL, s.Rbp & 0x3200);                         // PUSHF saw IOPL 3 and IF
        uint intEip = p.Dword(Results);                                  // the INT 21h frame: EIP CS EFLAGS ESP SS ES DS FS GS
        Assert.Equal(0xCD, p.M.Memory.Read(V86Code + intEip - 2, 1)[0]);
        Assert.Equal(V86Cs, p.Dword(Results + 4) & 0xFFFF);
        Assert.Equal(Vm, p.Dword(Results + 8) & Vm);
        Assert.Equal(V86Sp, p.Dword(Results + 12));
        Assert.Equal(V86Ss, p.Dword(Results + 16) & 0xFFFF);
        Assert.Equal(0x5000u, p.Dword(Results + 20) & 0xFFFF);
        Assert.Equal(V86Cs, p.Dword(Results + 24) & 0xFFFF);
        Assert.Equal(0, p.Word(Results + 0x40));

        Assert.Equal(13UL, s.Rdi);                                       // the HLT
        Assert.Equal(P.Stack0 - 40, s.Rsp);
        var f = V86Frame(p, s.Rsp);
        Assert.Equal(0u, f.Error);
        Assert.Equal(0xF4, p.M.Memory.Read(V86Code + f.Eip, 1)[0]);
        Assert.Equal((uint)V86Cs, f.Cs);
        Assert.Equal(Vm, f.Eflags & Vm);
        Assert.Equal((uint)V86Sp, f.Esp);
        Assert.Equal(0x5000u, f.Es);
        Assert.Equal((uint)V86Cs, f.Ds);
        Assert.Equal(0, s.Ds.Selector);
        Assert.Equal(0UL, s.Rflags & Vm);
    }

    [Theory]
    [InlineData(new byte[] { 0xFA })]          // CLI
    [InlineData(new byte[] { 0xFB })]          // STI
    [InlineData(new byte[] { 0x9C })]          // PUSHF
    [InlineData(new byte[] { 0x9D })]          // POPF
    [InlineData(new byte[] { 0xCD, 0x21 })]    // INT 21h
    [InlineData(new byte[] { 0xCF })]          // IRET
    public void Iopl_sensitive_instructions_below_iopl_3_are_gp_0_for_the_monitor(byte[] instruction)
    {
        using var p = new P();
        p.SetIdt(0x21, P.Gate(P.KernelCode, Monitor21, 0xEE));
        EnterV86(p, 0);
        p.M.Memory.Write(V86Code, [.. instruction, 0xF4]);
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(13UL, s.Rdi);
        var f = V86Frame(p, s.Rsp);
        Assert.Equal(0u, f.Error);
        Assert.Equal(0u, f.Eip);                                         // at the instruction, to emulate it
        Assert.Equal((uint)V86Sp, f.Esp);
    }

    [Fact]
    public void Int3_is_not_iopl_sensitive()
    {
        using var p = new P();
        p.SetIdt(3, P.Gate(P.KernelCode, P.FaultStubs + 3 * 16, 0xEE));
        EnterV86(p, 0);
        p.M.Memory.Write(V86Code, [0xCC, 0xF4]);
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(3UL, s.Rdi);
        Assert.Equal(1u, p.Dword((uint)s.Rsp));                          // no error code: EIP after INT3
        Assert.Equal(P.Stack0 - 36, s.Rsp);
    }

    [Fact]
    public void Port_io_in_v86_mode_goes_through_the_tss_io_bitmap_even_at_iopl_3()
    {
        using var p = new P();
        var port = new RecordingPort(0);
        p.M.Ports.Register(0x80, 2, port, "test");
        p.SetMainTssLimit(0x68 + 0x80);                                 // a bitmap for ports 0-3FFh and its end byte
        var bitmap = Enumerable.Repeat((byte)0xFF, 0x81).ToArray();
        bitmap[0x80 / 8] = 0xFE;                                        // only port 80h allowed
        p.M.Memory.Write(P.MainTss + 0x68, bitmap);
        p.M.Memory.Write(P.MainTss + 0x66, BitConverter.GetBytes((ushort)0x68));
        EnterV86(p, Iopl3);
        WriteV86(p, a =>
        {
            a.mov(al, 5);
            a.@out(0x80, al);
            a.@out(0x81, al);                   // at IP 4: denied
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal([((ushort)0x80, 1, 5u)], port.Writes);
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal((0u, 4u), (V86Frame(p, s.Rsp).Error, V86Frame(p, s.Rsp).Eip));
    }

    [Fact]
    public void A_task_switch_to_a_tss_with_vm_starts_a_v86_task()
    {
        using var p = new P();
        const uint tss = 0x4000;
        p.SetGdt(10, P.Segment(tss, 0x67, 0x89, big: false));
        var t = new byte[0x68];
        void D(int at, uint v) => BitConverter.GetBytes(v).CopyTo(t, at);
        D(0x04, 0x70000); D(0x08, P.KernelData);                       // ring-0 stack for leaving v86
        D(0x20, 0); D(0x24, Vm | Iopl3 | 2);                             // EIP, EFLAGS
        D(0x38, V86Sp);
        D(0x48, 0); D(0x4C, V86Cs); D(0x50, V86Ss); D(0x54, 0x3100);     // ES CS SS DS
        p.M.Memory.Write(tss, t);
        p.SetDword(0x31000, 0xCAFE);
        p.Write(P.Code, a => { a.db(0xEA); a.dd(0); a.dw(0x50); });
        WriteV86(p, a => { a.mov(ax, __word_ptr[0]); a.hlt(); });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0xCAFEUL, s.Rax & 0xFFFF);                          // DS 3100h addressed 31000h
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal(0x70000UL - 40, s.Rsp);
        var f = V86Frame(p, s.Rsp);
        Assert.Equal((uint)V86Cs, f.Cs);
        Assert.Equal(0x3100u, f.Ds);
        Assert.Equal(Vm, f.Eflags & Vm);
        Assert.Equal(0x50, s.Tr.Selector);
    }

    [Fact]
    public void V86_code_runs_as_a_user_under_paging_while_ring_0_takes_the_fault_on_a_supervisor_stack()
    {
        using var p = new P();
        const uint dir = 0x38000, table = 0x39000;
        var entries = new byte[4096];
        for (uint i = 0; i < 1024; i++) BitConverter.GetBytes(i * 4096 | 7).CopyTo(entries, i * 4);
        BitConverter.GetBytes(0x31000u | 3).CopyTo(entries, 0x31 * 4);        // 31000h: supervisor only
        for (uint i = 0x70; i < 0x80; i++) BitConverter.GetBytes(i * 4096 | 3).CopyTo(entries, i * 4); // the ring-0 stack too
        BitConverter.GetBytes(0x1000u | 3).CopyTo(entries, 1 * 4);            // and the GDT/IDT page
        BitConverter.GetBytes(0x2000u | 3).CopyTo(entries, 2 * 4);
        p.M.Memory.Write(table, entries);
        p.SetDword(dir, table | 7);
        p.Write(P.Code, a =>
        {
            a.mov(eax, dir);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)0x80000000));
            a.mov(cr0, eax);
            a.push(0); a.push(0); a.push(V86Cs); a.push(V86Cs); a.push(V86Ss); a.push(V86Sp);
            a.push((int)(Vm | Iopl3 | 2)); a.push(V86Cs); a.push(0);
            a.iretd();
        });
        WriteV86(p, a =>
        {
            a.mov(ax, __word_ptr[0x20]);        // 30020h: a user page
            a.mov(bx, __word_ptr[0x1000]);      // 31000h: #PF, present, read, user
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(14UL, s.Rdi);
        Assert.Equal(0x31000UL, s.Cr2);
        var f = V86Frame(p, s.Rsp);
        Assert.Equal(5u, f.Error);
        Assert.Equal(3u, f.Eip);
    }

    [Fact]
    public void Ring_3_port_io_above_iopl_is_allowed_by_the_io_bitmap_alone()
    {
        using var p = new P();
        var port = new RecordingPort(0x5A);
        p.M.Ports.Register(0x60, 8, port, "test");
        p.SetMainTssLimit(0x68 + 0x80);
        var bitmap = Enumerable.Repeat((byte)0xFF, 0x81).ToArray();
        bitmap[0x60 / 8] = 0xF0;                                        // 60h-63h allowed, 64h-67h not
        p.M.Memory.Write(P.MainTss + 0x68, bitmap);
        p.M.Memory.Write(P.MainTss + 0x66, BitConverter.GetBytes((ushort)0x68));
        p.Write(P.Code, a =>
        {
            a.push(P.UserData);
            a.push(0x70000);
            a.push(P.UserCode);
            a.push((int)P.Code + 0x100);
            a.retf();                           // ring 3 with IOPL 0
        });
        p.Write(P.Code + 0x100, a =>
        {
            a.mov(dx, 0x62);                    // 4 bytes
            a.@in(ax, dx);                      // 62h-63h: allowed (2 bytes)
            a.mov(dx, 0x63);                    // 4
            a.@in(ax, dx);                      // 63h-64h: 64h is denied, at +10
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0x5AUL, s.Rax & 0xFFFF);
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal(0u, p.Dword((uint)s.Rsp));
        Assert.Equal(P.Code + 0x10A, p.Dword((uint)s.Rsp + 4));
    }

    [Fact]
    public void Reading_cr0_in_v86_mode_is_gp_0_while_smsw_is_allowed()
    {
        using var p = new P();
        EnterV86(p, Iopl3);
        WriteV86(p, a =>
        {
            a.smsw(bx);                         // 3 bytes
            a.mov(eax, cr0);                    // at IP 3
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(0x11UL, s.Rbx & 0xFFFF);                             // PE and ET
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal((0u, 3u), (V86Frame(p, s.Rsp).Error, V86Frame(p, s.Rsp).Eip));
    }
}
