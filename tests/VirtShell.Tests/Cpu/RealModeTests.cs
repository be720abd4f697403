using System.Diagnostics;
using Iced.Intel;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Machines;
using Xunit;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Cpu;

public sealed class RealModeTests(ITestOutputHelper output)
{
    internal static CpuState RunProgram(TestMachine m, Action<Assembler> code, CpuExitReason expected = CpuExitReason.Halted)
    {
        m.Load16(code);
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == expected, $"{exit.Reason}: {exit.Detail}");
        return m.Cpu.GetState();
    }

    [Fact]
    public void Loop_sums_and_counts_retired_instructions()
    {
        using var m = new TestMachine();
        var s = RunProgram(m, a =>
        {
            var top = a.CreateLabel();
            a.xor(ax, ax);
            a.mov(cx, 100);
            a.Label(ref top);
            a.add(ax, cx);
            a.loop(top);
            a.hlt();
        });
        Assert.Equal(5050UL, s.Rax & 0xFFFF);
        Assert.Equal(0UL, s.Rcx & 0xFFFF);
        Assert.Equal(203, m.Cpu.InstructionsRetired);
    }

    [Fact]
    public void Add_and_subtract_set_exact_flags()
    {
        using var m = new TestMachine();
        var s = RunProgram(m, a =>
        {
            a.mov(al, 0xFF);
            a.add(al, 1);      // 0, CF ZF AF PF
            a.pushf();
            a.mov(bl, 0x7F);
            a.add(bl, 1);      // 80, OF SF AF
            a.pushf();
            a.mov(cl, 0);
            a.sub(cl, 1);      // FF, CF SF AF PF
            a.pushf();
            a.pop(dx); a.pop(si); a.pop(di);
            a.hlt();
        });
        const ulong arith = 0x8D5;
        Assert.Equal(0UL, s.Rax & 0xFF);
        Assert.Equal(0x1UL | 0x40 | 0x10 | 0x4, s.Rdi & arith);
        Assert.Equal(0x80UL, s.Rbx & 0xFF);
        Assert.Equal(0x800UL | 0x80 | 0x10, s.Rsi & arith);
        Assert.Equal(0xFFUL, s.Rcx & 0xFF);
        Assert.Equal(0x1UL | 0x80 | 0x10 | 0x4, s.Rdx & arith);
    }

    [Fact]
    public void Multiply_and_divide()
    {
        using var m = new TestMachine();
        var s = RunProgram(m, a =>
        {
            a.mov(ax, 1234);
            a.xor(dx, dx);
            a.mov(bx, 10);
            a.div(bx);          // AX=123 DX=4
            a.mov(si, dx);
            a.mov(cx, -7);
            a.imul(cx);         // DX:AX = -861
            a.mov(di, ax);
            a.mov(al, -100);
            a.cbw();
            a.mov(bl, 7);
            a.idiv(bl);         // AL=-14 AH=-2
            a.hlt();
        });
        Assert.Equal(4UL, s.Rsi & 0xFFFF);
        Assert.Equal(unchecked((ushort)-861), (ushort)s.Rdi);
        Assert.Equal(unchecked((byte)-14), (byte)s.Rax);
        Assert.Equal(unchecked((byte)-2), (byte)(s.Rax >> 8));
    }

    [Fact]
    public void Divide_by_zero_enters_vector_0_with_the_faulting_ip()
    {
        using var m = new TestMachine();
        m.SetVector(0, 0x2000, 0);
        m.Memory.Write(0x20000, TestMachine.Assemble(16, 0, a => { a.mov(si, 0xBEEF); a.hlt(); }));
        var s = RunProgram(m, a =>
        {
            a.mov(ax, 5);
            a.xor(bl, bl);
            a.div(bl);          // at offset 5
            a.hlt();
        });
        Assert.Equal(0xBEEFUL, s.Rsi & 0xFFFF);
        Assert.Equal(0x2000, s.Cs.Selector);
        Assert.Equal(5, m.Word(0x90000 + 0xFFFE - 6));          // pushed IP: the DIV itself
        Assert.Equal(TestMachine.CodeSegment, m.Word(0x90000 + 0xFFFE - 4));
    }

    [Fact]
    public void String_instructions_with_rep_prefixes()
    {
        using var m = new TestMachine();
        m.Memory.Write(0x10300, "hello"u8.ToArray());
        var s = RunProgram(m, a =>
        {
            a.cld();
            a.mov(si, 0x300);
            a.mov(di, 0x400);
            a.mov(cx, 5);
            a.rep.movsb();              // copy "hello" to 0x400
            a.mov(di, 0x400);
            a.mov(al, (byte)'l');
            a.mov(cx, 5);
            a.repne.scasb();            // finds the first 'l' at 0x402: DI=0x403, CX=2
            a.mov(bx, di);
            a.mov(dx, cx);
            a.mov(di, 0x500);
            a.mov(ax, 0xABCD);
            a.mov(cx, 3);
            a.rep.stosw();
            a.hlt();
        });
        Assert.Equal("hello"u8.ToArray(), m.Memory.Read(0x10400, 5));
        Assert.Equal(0x403UL, s.Rbx & 0xFFFF);
        Assert.Equal(2UL, s.Rdx & 0xFFFF);
        Assert.Equal(0xABCD, m.Word(0x10504));
        Assert.Equal(0x506UL, s.Rdi & 0xFFFF);
    }

    [Fact]
    public void Calls_returns_and_stack_frames()
    {
        using var m = new TestMachine();
        var s = RunProgram(m, a =>
        {
            var square = a.CreateLabel();
            a.mov(ax, 9);
            a.push(ax);
            a.call(square);
            a.mov(bx, ax);
            a.mov(cx, 0x1111);
            a.pusha();
            a.xor(cx, cx);
            a.popa();
            a.hlt();
            a.Label(ref square);     // square(word [bp+4]) with an ENTER/LEAVE frame, RET 2
            a.enter(2, 0);
            a.mov(ax, __word_ptr[bp + 4]);
            a.mul(ax);
            a.leave();
            a.ret(2);
        });
        Assert.Equal(81UL, s.Rbx & 0xFFFF);
        Assert.Equal(0x1111UL, s.Rcx & 0xFFFF);
        Assert.Equal(0xFFFEUL, s.Rsp & 0xFFFF);
    }

    [Fact]
    public void Enter_with_a_nesting_level_copies_the_outer_frame_pointers_and_pushes_its_own()
    {
        using var m = new TestMachine();
        var s = RunProgram(m, a =>
        {
            a.mov(sp, 0x1000);
            a.mov(bp, 0x2000);
            a.mov(__word_ptr.ss[0x1FFE], 0x1234);   // the outer frame's saved frame pointer
            a.enter(6, 2);                       // push BP, copy [BP-2], push the new frame pointer, reserve 6
            a.hlt();
        });
        Assert.Equal(0x0FFEUL, s.Rbp & 0xFFFF);
        Assert.Equal(0x0FFEUL - 4 - 6, s.Rsp & 0xFFFF);
        Assert.Equal(0x2000, m.Word(0x90000 + 0x0FFE));
        Assert.Equal(0x1234, m.Word(0x90000 + 0x0FFC));
        Assert.Equal(0x0FFE, m.Word(0x90000 + 0x0FFA));
    }

    [Fact]
    public void Enter_with_32_bit_operands_on_a_16_bit_stack_sets_only_bp()
    {
        using var m = new TestMachine();
        var s = RunProgram(m, a =>
        {
            a.mov(esp, 0x12341000);
            a.mov(ebp, 0x56782000);
            a.db(0x66, 0xC8, 0x04, 0x00, 0x01);  // o32 enter 4, 1: pushes EBP, then the new frame pointer
            a.hlt();
        });
        Assert.Equal(0x56780FFCUL, s.Rbp);
        Assert.Equal(0x12340FF4UL, s.Rsp);
        Assert.Equal(0x56782000u, BitConverter.ToUInt32(m.Memory.Read(0x90000 + 0x0FFC, 4)));
        Assert.Equal(0x56780FFCu, BitConverter.ToUInt32(m.Memory.Read(0x90000 + 0x0FF8, 4)));
    }

    [Fact]
    public void Software_interrupt_and_iret_restore_flags()
    {
        using var m = new TestMachine();
        m.SetVector(0x21, 0x2000, 0);
        m.Memory.Write(0x20000, TestMachine.Assemble(16, 0, a => { a.inc(ax); a.cli(); a.iret(); }));
        var s = RunProgram(m, a =>
        {
            a.mov(ax, 41);
            a.sti();
            a.@int(0x21);
            a.pushf();
            a.pop(bx);
            a.cli();
            a.hlt();
        });
        Assert.Equal(42UL, s.Rax & 0xFFFF);
        Assert.NotEqual(0UL, s.Rbx & 0x200);   // IRET restored IF=1 though the handler cleared it
    }

    [Fact]
    public void Halt_wakes_for_an_external_interrupt_only_when_enabled()
    {
        using var m = new TestMachine();
        m.SetVector(0x08, 0x2000, 0);
        m.Memory.Write(0x20000, TestMachine.Assemble(16, 0, a => { a.mov(bx, 0x1234); a.iret(); }));
        m.Load16(a =>
        {
            var again = a.CreateLabel();
            a.cli();
            a.hlt();                 // halted with IF=0
            a.sti();
            a.Label(ref again);
            a.hlt();
            a.jmp(again);
        });
        Assert.Equal(CpuExitReason.Halted, m.Cpu.Run().Reason);
        m.Interrupts.Raise(0x08);
        Assert.Equal(CpuExitReason.Halted, m.Cpu.Run().Reason);   // IF=0: stays halted, nothing acknowledged
        Assert.Equal(0, m.Interrupts.Acknowledged);

        m.Cpu.SetState(m.Cpu.GetState());                          // leave the IF=0 halt as a reset would
        // STI; HLT: the shadow lets HLT run first, then the waiting interrupt ends the halt at once; the handler
        // IRETs back to the HLT loop, which halts again with nothing pending.
        Assert.Equal(CpuExitReason.Halted, m.Cpu.Run().Reason);
        Assert.Equal(1, m.Interrupts.Acknowledged);
        Assert.Equal(4UL, m.Cpu.GetState().Rip);                   // just past the HLT at offset 3
        m.Interrupts.Raise(0x08);
        Assert.Equal(CpuExitReason.Halted, m.Cpu.Run().Reason);   // halted with IF=1: delivered on the next Run
        Assert.Equal(2, m.Interrupts.Acknowledged);
        Assert.Equal(0x1234UL, m.Cpu.GetState().Rbx & 0xFFFF);
    }

    [Fact]
    public void An_nmi_ends_a_halt_with_IF_clear_and_the_next_one_waits_for_the_handlers_IRET()
    {
        // kvm-unit-tests' eventinj and taskswitch2: an NMI sent while IF=0 is taken, and one sent while its handler
        // runs is held until that handler's IRET. The handler records the deepest nesting it saw in DL.
        using var m = new TestMachine();
        m.SetVector(0x02, 0x2000, 0);
        m.Memory.Write(0x20000, TestMachine.Assemble(16, 0, a =>
        {
            var shallower = a.CreateLabel();
            a.inc(bx);          // NMIs taken
            a.inc(cx);          // current depth
            a.cmp(cx, dx);
            a.jbe(shallower);
            a.mov(dx, cx);
            a.Label(ref shallower);
            a.nop();
            a.nop();
            a.dec(cx);
            a.iret();
        }));
        m.Load16(a =>
        {
            a.xor(bx, bx);
            a.xor(cx, cx);
            a.xor(dx, dx);
            a.cli();
            a.hlt();
            a.hlt();
        });
        Assert.Equal(CpuExitReason.Halted, m.Cpu.Run().Reason);
        m.Interrupts.RaiseNmi();
        m.Interrupts.RaiseNmi();
        Assert.Equal(CpuExitReason.Halted, m.Cpu.Run().Reason);
        var s = m.Cpu.GetState();
        Assert.Equal(2, m.Interrupts.NmisTaken);
        Assert.Equal(2UL, s.Rbx & 0xFFFF);
        Assert.Equal(1UL, s.Rdx & 0xFFFF);     // never nested
        Assert.Equal(0UL, s.Rflags & 0x200);   // IF stayed clear
        Assert.Equal(0, m.Interrupts.Acknowledged);
    }

    [Fact]
    public void An_interrupt_waiting_at_sti_is_taken_after_the_one_instruction_in_its_shadow()
    {
        // kvm-unit-tests' eventinj: "sti; nop; cli" with an interrupt pending takes it between the NOP and the CLI.
        using var m = new TestMachine();
        m.SetVector(0x08, 0x2000, 0);
        m.Memory.Write(0x20000, TestMachine.Assemble(16, 0, a => { a.inc(bx); a.iret(); }));
        m.Interrupts.Raise(0x08);
        var s = RunProgram(m, a =>
        {
            a.xor(bx, bx);
            a.sti();
            a.nop();
            a.cli();
            a.mov(cx, bx);      // how many interrupts ran before the CLI
            a.hlt();
        });
        Assert.Equal(1UL, s.Rcx & 0xFFFF);
    }

    [Fact]
    public void Request_exit_is_sticky_and_stops_a_spinning_guest()
    {
        using var m = new TestMachine();
        m.Load16(a =>
        {
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.inc(ax);
            a.jmp(spin);
        });
        m.Cpu.RequestExit();
        Assert.Equal(CpuExitReason.ExitRequested, m.Cpu.Run().Reason);
        Assert.Equal(0, m.Cpu.InstructionsRetired);

        // A thread of its own, not a pool timer: with the suite's tests running in parallel the pool can be late.
        var requested = new Stopwatch();
        var stopper = new Thread(() => { Thread.Sleep(100); requested.Start(); m.Cpu.RequestExit(); });
        stopper.Start();
        var reason = m.Cpu.Run().Reason;
        long stoppedAfter = requested.ElapsedMilliseconds;
        stopper.Join();
        Assert.Equal(CpuExitReason.ExitRequested, reason);
        Assert.True(stoppedAfter < 5000, $"stop took {stoppedAfter} ms after the request");
        Assert.True(m.Cpu.InstructionsRetired > 0);
    }

    [Fact]
    public void A_store_into_the_next_instruction_executes_the_new_bytes()
    {
        using var m = new TestMachine();
        var s = RunProgram(m, a =>
        {
            a.mov(__byte_ptr[6], 0x42);   // 5 bytes: patches the immediate of the MOV right below, in the same block
            a.mov(al, 0x00);
            a.hlt();
        });
        Assert.Equal(0x42UL, s.Rax & 0xFF);
    }

    [Fact]
    public void External_writes_invalidate_decoded_code()
    {
        using var m = new TestMachine();
        var s = RunProgram(m, a => { a.mov(ax, 1); a.hlt(); });
        Assert.Equal(1UL, s.Rax & 0xFFFF);
        m.Memory.Write(0x10000, TestMachine.Assemble(16, 0, a => { a.mov(ax, 2); a.hlt(); }));
        s.Rip = 0;
        m.Cpu.SetState(s);
        Assert.Equal(CpuExitReason.Halted, m.Cpu.Run().Reason);
        Assert.Equal(2UL, m.Cpu.GetState().Rax & 0xFFFF);
    }

    [Fact]
    public void Undefined_opcode_raises_ud_in_the_guest()
    {
        using var m = new TestMachine();
        m.SetVector(6, 0x2000, 0);
        m.Memory.Write(0x20000, TestMachine.Assemble(16, 0, a => { a.mov(di, 0x0606); a.hlt(); }));
        var s = RunProgram(m, a => { a.ud2(); a.hlt(); });
        Assert.Equal(0x0606UL, s.Rdi & 0xFFFF);
    }

    [Fact]
    public void Unimplemented_instruction_is_reported_with_text_bytes_and_address()
    {
        using var m = new TestMachine();
        m.Load16(a => { a.nop(); a.paddb(mm0, mm1); a.hlt(); });   // MMX: not implemented
        var exit = m.Cpu.Run();
        Assert.Equal(CpuExitReason.InternalError, exit.Reason);
        Assert.Contains("paddb", exit.Detail);
        Assert.Contains("0FFCC1", exit.Detail);
        Assert.Contains("1000:00000001", exit.Detail);
    }

    [Fact]
    public void Fault_without_a_usable_idt_is_a_triple_fault()
    {
        using var m = new TestMachine();
        m.Memory.Write(0x10800, new byte[6]);            // IDTR limit 0, base 0
        m.Load16(a => { a.lidt(__[0x800]); a.int3(); });
        var exit = m.Cpu.Run();
        Assert.Equal(CpuExitReason.TripleFault, exit.Reason);
        Assert.Contains("triple fault", exit.Detail);
        var recorded = VirtualMachineRuntime.MachineExitFor(exit, () => m.Cpu.GetState().Dump())!;
        Assert.Equal(ExitReason.TripleFault, recorded.Reason);
        Assert.True(recorded.IsCrash);
        Assert.Contains(m.Cpu.GetState().Dump().Split('\n')[0], recorded.Detail);
    }

    [Fact]
    public void Fault_while_delivering_an_exception_becomes_a_double_fault()
    {
        using var m = new TestMachine();
        m.SetVector(8, 0x2000, 0);
        m.Memory.Write(0x20000, TestMachine.Assemble(16, 0, a => { a.mov(bp, 0xDF); a.hlt(); }));
        m.Memory.Write(0x10800, [0x23, 0, 0, 0, 0, 0]);  // IDTR limit 23h: vectors 0-8 only
        var s = RunProgram(m, a => { a.lidt(__[0x800]); a.@int(0x21); a.hlt(); });
        Assert.Equal(0xDFUL, s.Rbp & 0xFFFF);         // INT 21h -> #GP (beyond the limit) -> #GP again -> #DF
    }

    [Fact]
    public void Port_io_goes_to_the_bus()
    {
        using var m = new TestMachine();
        var dev = new RecordingPort(0xA5A5);
        m.Ports.Register(0x3F8, 8, dev, "test");
        m.Memory.Write(0x10300, "hi"u8.ToArray());
        var s = RunProgram(m, a =>
        {
            a.mov(dx, 0x3F8);
            a.mov(al, 0x41);
            a.@out(dx, al);
            a.@in(ax, dx);
            a.mov(bx, ax);
            a.mov(si, 0x300);
            a.mov(cx, 2);
            a.rep.outsb();
            a.@in(al, 0x60);          // unclaimed port reads as all ones
            a.hlt();
        });
        Assert.Equal([(0x3F8, 1, 0x41u), (0x3F8, 1, (uint)'h'), (0x3F8, 1, (uint)'i')], dev.Writes);
        Assert.Equal(0xA5A5UL, s.Rbx & 0xFFFF);
        Assert.Equal(0xFFUL, s.Rax & 0xFF);
    }

    [Fact]
    public void Operand_and_address_size_prefixes_work_in_real_mode()
    {
        using var m = new TestMachine();
        var s = RunProgram(m, a =>
        {
            a.mov(eax, 0x12345678);
            a.movzx(ecx, ax);                       // 0x5678
            a.mov(ebx, 0x100);
            a.mov(edx, 2);
            a.mov(__dword_ptr[ebx + edx * 4], eax); // [0x108]
            a.mov(esi, __dword_ptr[0x108]);
            a.bsr(edi, eax);                        // 28
            a.shld(eax, ecx, 8);                    // 0x34567800: the top byte of ECX is 0
            a.movsx(ebp, __byte_ptr[0x10B]);        // 0x12 -> 0x12
            a.hlt();
        });
        Assert.Equal(0x5678UL, s.Rcx);
        Assert.Equal(0x12345678UL, s.Rsi);
        Assert.Equal(28UL, s.Rdi);
        Assert.Equal(0x34567800UL, s.Rax);
        Assert.Equal(0x12UL, s.Rbp);
    }

    [Fact]
    public void Address_mask_wraps_at_one_megabyte()
    {
        using var m = new TestMachine();
        m.Cpu.AddressMask = 0xFFFFF;
        RunProgram(m, a =>
        {
            a.mov(ax, 0xFFFF);
            a.mov(es, ax);
            a.mov(__byte_ptr.es[0x20], 0x77);      // FFFF:0020 = 0x100010 -> 0x000010
            a.hlt();
        });
        Assert.Equal(0x77, m.Memory.Read(0x10, 1)[0]);
        Assert.Equal(0, m.Memory.Read(0x100010, 1)[0]);
    }

    [Fact]
    public void Measure_real_mode_mips()
    {
        var result = VirtShell.Conformance.MipsBenchmark.RealMode();
        Assert.Equal(VirtShell.Conformance.MipsBenchmark.ExpectedInstructions, result.Instructions);
        output.WriteLine(result.ToString());
    }
}
