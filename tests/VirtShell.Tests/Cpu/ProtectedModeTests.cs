using Iced.Intel;
using VirtShell.Engine.Cpu;
using Xunit;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Cpu;

public sealed class ProtectedModeTests(ITestOutputHelper output)
{
    private const ulong Gdt = 0x10800, GdtPointer = 0x10900, Idt = 0x11000, IdtPointer = 0x10A00;
    private const uint Code32 = 0x10100, Handler = 0x10200;

    /// <summary>
    /// Real-mode code at 1000:0000 that loads a flat GDT (code 08h, data 10h), sets CR0.PE and jumps far to 32-bit
    /// code at <see cref="Code32"/>; an IDT with an interrupt gate for vector 30h points at <see cref="Handler"/>.
    /// </summary>
    internal static void LoadProtectedModeProgram(TestMachine m, Action<Assembler> code32, Action<Assembler> handler)
    {
        m.Memory.Write(Gdt, BitConverter.GetBytes(0UL)
            .Concat(BitConverter.GetBytes(0x00CF9A000000FFFFUL))
            .Concat(BitConverter.GetBytes(0x00CF92000000FFFFUL)).ToArray());
        m.Memory.Write(GdtPointer, [23, 0, .. BitConverter.GetBytes((uint)Gdt)]);
        ulong gate = (Handler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((ulong)(Handler >> 16) << 48);
        m.Memory.Write(Idt + 0x30 * 8, BitConverter.GetBytes(gate));
        m.Memory.Write(IdtPointer, [0xFF, 0x07, .. BitConverter.GetBytes((uint)Idt)]);
        m.Memory.Write(Code32, TestMachine.Assemble(32, Code32, a =>
        {
            a.mov(ax, 0x10);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(ss, ax);
            a.mov(esp, 0x80000);
            a.lidt(__[(uint)IdtPointer]);
            code32(a);
        }));
        m.Memory.Write(Handler, TestMachine.Assemble(32, Handler, handler));
        m.Load16(a =>
        {
            a.cli();
            a.lgdt(__[0x900]);
            a.mov(eax, cr0);
            a.or(eax, 1);
            a.mov(cr0, eax);
            a.db(0x66, 0xEA);                       // jmp dword 08h:Code32
            a.dd(Code32);
            a.dw(0x08);
        });
    }

    [Fact]
    public void A_contributory_fault_while_delivering_a_benign_exception_is_delivered_itself_not_as_a_double_fault()
    {
        // SDM table 6-5: #UD whose gate names a not-present code segment raises #NP, handled serially.
        using var p = new ProtectedModeMachine();
        p.SetGdt(6, ProtectedModeMachine.Segment(0, 0xFFFF_FFFF, 0x1A)); // code, not present
        p.SetIdt(6, ProtectedModeMachine.Gate(0x30, ProtectedModeMachine.Code, 0x8E));
        p.Write(ProtectedModeMachine.Code, a => a.ud2());
        p.Start(ProtectedModeMachine.Code);
        var s = p.RunToHalt();
        Assert.Equal(11UL, s.Rdi);
        Assert.Equal(0x30u, p.Dword((uint)s.Rsp));  // #NP's error code: the selector
    }

    [Fact]
    public void Switches_to_flat_32_bit_protected_mode_and_takes_an_interrupt_gate()
    {
        using var m = new TestMachine();
        LoadProtectedModeProgram(m, a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 1000);
            a.xor(eax, eax);
            a.xor(ebx, ebx);
            a.Label(ref top);
            a.add(eax, ecx);
            a.loop(top);
            a.mov(__dword_ptr[0x20000], eax);
            a.@int(0x30);
            a.hlt();
        }, a => { a.inc(ebx); a.iretd(); });
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        var s = m.Cpu.GetState();
        Assert.Equal(500500UL, s.Rax);
        Assert.Equal(1UL, s.Rbx);
        Assert.Equal(0x08, s.Cs.Selector);
        Assert.Equal(0x10, s.Ss.Selector);
        Assert.Equal(0x80000UL, s.Rsp);
        Assert.Equal(1UL, s.Cr0 & 1);
        Assert.Equal(500500u, BitConverter.ToUInt32(m.Memory.Read(0x20000, 4)));
    }

    [Fact]
    public void Loading_a_selector_beyond_the_gdt_limit_raises_gp()
    {
        using var m = new TestMachine();
        m.Memory.Write(Idt + 13 * 8, BitConverter.GetBytes((Handler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((ulong)(Handler >> 16) << 48)));
        LoadProtectedModeProgram(m, a =>
        {
            a.mov(ax, 0x40);
            a.mov(ds, ax);          // GDT limit is 23: #GP(40h)
            a.hlt();
        }, a => { a.pop(edx); a.hlt(); });  // the error code
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        Assert.Equal(0x40UL, m.Cpu.GetState().Rdx);
        Assert.Equal(0x10, m.Cpu.GetState().Ds.Selector);
    }

    private const uint PageDirectory = 0x30000, Table0 = 0x31000, Table1 = 0x32000;

    /// <summary>
    /// Page tables at 30000h: the first <paramref name="identityPages"/> pages identity-mapped as supervisor pages,
    /// 400000h mapped to 50000h with <paramref name="highFlags"/> (in its table and directory entry); #PF goes to Handler.
    /// </summary>
    private static void MapFirstPages(TestMachine m, uint identityPages = 1024, uint highFlags = 3)
    {
        var identity = new byte[4096];
        for (uint i = 0; i < identityPages; i++) BitConverter.GetBytes(i * 4096 | 3).CopyTo(identity, i * 4);
        m.Memory.Write(Table0, identity);
        m.Memory.Write(Table1, BitConverter.GetBytes(0x50000u | highFlags));
        m.Memory.Write(PageDirectory, BitConverter.GetBytes(Table0 | 3).Concat(BitConverter.GetBytes(Table1 | highFlags)).ToArray());
        m.Memory.Write(Idt + 14 * 8, BitConverter.GetBytes((Handler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((ulong)(Handler >> 16) << 48)));
    }

    private static void EnablePaging(Assembler a)
    {
        a.mov(eax, PageDirectory);
        a.mov(cr3, eax);
        a.mov(eax, cr0);
        a.or(eax, unchecked((int)0x80000000));
        a.mov(cr0, eax);
    }

    [Fact]
    public void Paging_translates_sets_accessed_and_dirty_and_faults_on_absent_pages()
    {
        using var m = new TestMachine();
        MapFirstPages(m);
        LoadProtectedModeProgram(m, a =>
        {
            EnablePaging(a);
            a.mov(__dword_ptr[0x400010], unchecked((int)0xDEADBEEF));
            a.mov(esi, __dword_ptr[0x50010]);       // the same bytes through the identity map
            a.mov(edi, __dword_ptr[0x800000]);      // no page table: #PF
            a.hlt();
        }, a => { a.pop(edx); a.mov(ecx, cr2); a.hlt(); });
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        var s = m.Cpu.GetState();
        Assert.Equal(0xDEADBEEFUL, s.Rsi);
        Assert.Equal(0x800000UL, s.Rcx);
        Assert.Equal(0UL, s.Rdx);                                               // not present, read, supervisor
        Assert.Equal(0x50000u | 0x63, BitConverter.ToUInt32(m.Memory.Read(Table1, 4)));   // accessed + dirty
        Assert.Equal(Table1 | 0x23, BitConverter.ToUInt32(m.Memory.Read(PageDirectory + 4, 4)));    // accessed
    }

    [Fact]
    public void Smap_faults_supervisor_reads_of_user_pages_unless_ac_is_set()
    {
        // kvm-unit-tests' smap: with CR4.SMAP, ring 0 reads a user page after STAC but takes #PF after CLAC.
        using var m = new TestMachine();
        MapFirstPages(m, highFlags: 7);                                         // 0x400000: a user page
        m.Memory.Write(0x50010, BitConverter.GetBytes(0x1234u));
        LoadProtectedModeProgram(m, a =>
        {
            EnablePaging(a);
            a.mov(eax, cr4);
            a.or(eax, 0x200000);                    // CR4.SMAP
            a.mov(cr4, eax);
            a.db(0x0F, 0x01, 0xCB);                 // stac
            a.mov(esi, __dword_ptr[0x400010]);      // allowed
            a.db(0x0F, 0x01, 0xCA);                 // clac
            a.mov(edi, __dword_ptr[0x400010]);      // #PF
            a.hlt();
        }, a => { a.pop(edx); a.mov(ecx, cr2); a.hlt(); });
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        var s = m.Cpu.GetState();
        Assert.Equal(0x1234UL, s.Rsi);
        Assert.Equal(0x400010UL, s.Rcx);
        Assert.Equal(1UL, s.Rdx);                   // present, read, supervisor
    }

    [Fact]
    public void Enter_faults_on_its_final_stack_pointer_before_changing_a_register()
    {
        using var m = new TestMachine();
        MapFirstPages(m, identityPages: 1023);                                 // 3FF000h absent
        LoadProtectedModeProgram(m, a =>
        {
            EnablePaging(a);
            a.mov(esp, 0x400100);
            a.mov(ebp, 0x1234);
            a.enter(0x200, 0);                      // pushes EBP at 4000FCh, then the frame reaches 3FFEFCh: #PF
            a.hlt();
        }, a => { a.pop(edx); a.mov(ecx, cr2); a.hlt(); });
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        var s = m.Cpu.GetState();
        Assert.Equal(0x3FFEFCUL, s.Rcx);
        Assert.Equal(2UL, s.Rdx);                    // not present, write, supervisor
        Assert.Equal(0x1234UL, s.Rbp);
        Assert.Equal(0x400100UL - 12, s.Rsp);        // the fault frame sits on the untouched ESP
    }

    [Fact]
    public void Ring_3_code_enters_ring_0_through_the_tss_stack_and_returns()
    {
        using var m = new TestMachine();
        const uint tss = 0x12000, user = 0x10300, gpHandler = 0x10400;
        LoadProtectedModeProgram(m, a =>
        {
            a.mov(ax, 0x28);
            a.ltr(ax);
            a.push(0x23);                 // user SS
            a.push(0x60000);              // user ESP
            a.pushfd();
            a.push(0x1B);                 // user CS
            a.push((int)user);
            a.iretd();
        }, a =>
        {
            a.mov(esi, esp);
            a.mov(edi, __dword_ptr[esp + 4]);   // the interrupted CS
            a.mov(ebp, __dword_ptr[esp + 12]);  // the interrupted ESP
            a.iretd();
        });
        // GDT entries 3-5: ring-3 code and data, a 32-bit TSS whose ring-0 stack is 10h:70000h.
        m.Memory.Write(Gdt + 24, BitConverter.GetBytes(0x00CFFA000000FFFFUL)
            .Concat(BitConverter.GetBytes(0x00CFF2000000FFFFUL))
            .Concat(BitConverter.GetBytes(0x0000_8901_2000_0067UL)).ToArray());
        m.Memory.Write(GdtPointer, [47, 0]);
        m.Memory.Write(tss + 4, BitConverter.GetBytes(0x70000u).Concat(BitConverter.GetBytes(0x10u)).ToArray());
        // Vector 30h callable from ring 3 (gate DPL 3); #GP to its own handler.
        m.Memory.Write(Idt + 0x30 * 8 + 5, [0xEE]);
        m.Memory.Write(Idt + 13 * 8, BitConverter.GetBytes((gpHandler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((ulong)(gpHandler >> 16) << 48)));
        m.Memory.Write(user, TestMachine.Assemble(32, user, a =>
        {
            a.mov(eax, 7);
            a.@int(0x30);
            a.mov(bx, 0x10);
            a.mov(ds, bx);                // kernel data from ring 3: #GP(10h)
        }));
        m.Memory.Write(gpHandler, TestMachine.Assemble(32, gpHandler, a => { a.pop(edx); a.mov(ecx, __dword_ptr[esp + 4]); a.hlt(); }));

        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        var s = m.Cpu.GetState();
        Assert.Equal(7UL, s.Rax);
        Assert.Equal(0x70000UL - 20, s.Rsi);     // SS, ESP, EFLAGS, CS, EIP on the TSS stack
        Assert.Equal(0x1BUL, s.Rdi);
        Assert.Equal(0x60000UL, s.Rbp);
        Assert.Equal(0x10UL, s.Rdx);             // #GP error code: the selector
        Assert.Equal(0x1BUL, s.Rcx);             // #GP came from ring 3
        Assert.Equal(0x08, s.Cs.Selector);
        Assert.Equal(0x10, s.Ss.Selector);
    }

    [Fact]
    public void Lsl_lar_and_verw_inspect_descriptors_through_zf()
    {
        using var m = new TestMachine();
        LoadProtectedModeProgram(m, a =>
        {
            a.mov(eax, 0x10);
            a.lsl(ebx, eax);              // flat data: limit FFFFFFFF, ZF=1
            a.lar(ecx, eax);              // access byte 92h in bits 8-15, G and D/B in bits 20-23
            a.mov(eax, 0x40);
            a.mov(edx, 0x1234);
            a.lsl(edx, eax);              // beyond the GDT: ZF=0, EDX unchanged
            a.setz(__byte_ptr[0x20000]);
            a.mov(eax, 0x08);
            a.verw(ax);                   // code is never writable: ZF=0
            a.setz(__byte_ptr[0x20001]);
            a.hlt();
        }, a => a.iretd());
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        var s = m.Cpu.GetState();
        Assert.Equal(0xFFFFFFFFUL, s.Rbx);
        Assert.Equal(0x00C09200UL, s.Rcx & 0xFFF0FEFF);  // bits 16-19 are undefined; ignore the accessed bit
        Assert.Equal(0x1234UL, s.Rdx);
        Assert.Equal(new byte[] { 0, 0 }, m.Memory.Read(0x20000, 2));
    }

    private sealed class RecordingMmio : VirtShell.Engine.Buses.IMmioDevice
    {
        public List<(ulong Address, int Size, ulong Value)> Writes { get; } = [];
        public ulong ReadMmio(ulong address, int size) => 0xCAFE0000 | (address & 0xFFFF);
        public void WriteMmio(ulong address, int size, ulong value) => Writes.Add((address, size, value));
    }

    [Fact]
    public void Accesses_outside_ram_go_to_the_mmio_bus()
    {
        using var m = new TestMachine();
        var dev = new RecordingMmio();
        m.Mmio.Register(0x300000, 0x1000, dev, "test");
        LoadProtectedModeProgram(m, a =>
        {
            a.mov(__dword_ptr[0x300010], 0x12345678);
            a.mov(__word_ptr[0x300020], 0xBEEF);
            a.mov(esi, __dword_ptr[0x300004]);
            a.mov(edi, __dword_ptr[0x400000]);     // unclaimed: all ones
            a.hlt();
        }, a => a.iretd());
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        Assert.Equal([(0x300010UL, 4, 0x12345678UL), (0x300020UL, 2, 0xBEEFUL)], dev.Writes);
        Assert.Equal(0xCAFE0004UL, m.Cpu.GetState().Rsi);
        Assert.Equal(0xFFFFFFFFUL, m.Cpu.GetState().Rdi);
    }

    [Fact]
    public void Measure_protected_mode_mips()
    {
        var result = VirtShell.Conformance.MipsBenchmark.ProtectedMode();
        Assert.Equal(VirtShell.Conformance.MipsBenchmark.ExpectedInstructions, result.Instructions);
        output.WriteLine(result.ToString());
    }
}
