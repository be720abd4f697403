using Iced.Intel;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Tests.Models;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Cpu;

/// <summary>IA-32e mode in the interpreter: entry, 64-bit code, 4-level paging, 64-bit interrupts and IRETQ.</summary>
public class LongModeTests
{
    /// <summary>Stops the CPU when the guest writes the port (isa-debug-exit's role in a machine).</summary>
    private sealed class ExitPort(VirtShell.Cpu.Interpreter.InterpreterCpu cpu) : IPortDevice
    {
        public List<uint> Writes { get; } = [];
        public uint ReadPort(ushort port, int size) => 0;
        public void WritePort(ushort port, int size, uint value)
        {
            Writes.Add(value);
            cpu.RequestExit();
        }
    }

    [Fact]
    public void The_ring3_loop_guest_enters_long_mode_from_real_mode_and_runs_its_loop_in_ring_3()
    {
        using var m = new TestMachine();
        var exit = new ExitPort(m.Cpu);
        m.Ports.Register(0xF4, 1, exit, "test");
        m.Memory.Write(0x7C00, File.ReadAllBytes(RepoPaths.RequireGuest("guests/ring3-loop.bin")));
        m.Cpu.SetState(CpuState.RealMode(0, 0x7C00));

        var result = m.Cpu.Run();

        Assert.True(result.Reason == CpuExitReason.ExitRequested, $"{result.Reason}: {result.Detail}");
        Assert.Equal([0u], exit.Writes);
        var s = m.Cpu.GetState();
        Assert.Equal(0x500UL, s.Efer & 0x500); // LME and LMA
        Assert.Equal((ushort)0x1B, s.Cs.Selector);
        Assert.Equal((ushort)0x23, s.Ss.Selector);
        Assert.Equal(0UL, s.Rcx);
        Assert.Equal(0x7000UL, s.Rsp);
        // The loop's arithmetic, done here the same way.
        uint eax = 0, ebx = 0, edi = 0;
        var buffer = new uint[256];
        for (ulong rcx = 1_000_000; rcx != 0; rcx--)
        {
            eax += (uint)rcx;
            ebx ^= eax;
            buffer[edi] = eax;
            edi = (edi + 1) & 255;
            ebx += buffer[edi];
            eax = uint.RotateLeft(eax, 3);
        }
        Assert.Equal(eax & ~0xFFu, (uint)s.Rax); // the guest clears AL for its exit code
        Assert.Equal(ebx, (uint)s.Rbx);
        Assert.Equal(0UL, s.Rax >> 32); // 32-bit results zero-extend
        Assert.True(m.Cpu.InstructionsRetired > 10_000_000);
    }

    [Fact]
    public void Paging_with_LME_but_without_PAE_is_a_general_protection_fault()
    {
        using var p = new ProtectedModeMachine();
        p.Write(ProtectedModeMachine.Code, a =>
        {
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.or(eax, 0x100);
            a.wrmsr();
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)0x8000_0000));
            a.mov(cr0, eax);
            a.hlt();
        });
        p.Start(ProtectedModeMachine.Code);
        var s = p.RunToHalt();
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal(0UL, s.Efer & 0x400);
    }

    [Fact]
    public void Sixty_four_bit_arithmetic_uses_REX_registers_RIP_relative_operands_and_zero_extends_32_bit_writes()
    {
        using var l = new LongModeMachine();
        l.Write(LongModeMachine.Code, a =>
        {
            var data = a.CreateLabel();
            var result = a.CreateLabel();
            a.mov(rax, 0x1234_5678_9ABC_DEF0);          // imm64
            a.mov(r8, rax);
            a.add(r8, 0x10);                             // imm32 sign-extended: + 16
            a.mov(r9, -1L);
            a.mov(r9d, 5);                               // zero-extends
            a.mov(r10, -1L);
            a.mov(r10w, 7);                              // keeps bits 16-63
            a.mov(r11, __qword_ptr[data]);               // RIP-relative load
            a.add(r11, r8);
            a.mov(__qword_ptr[result], r11);             // RIP-relative store
            a.mov(r12, -2L);
            a.sub(r12, 1);
            a.setc(r13b);
            a.mov(ecx, 3);
            a.mov(r14, 0x8000_0000_0000_0001);
            a.shl(r14, 1);
            a.setc(r15b);
            a.lea(rsi, __qword_ptr[r8 + rcx * 8 - 0x20]);
            a.movsxd(rdx, r12d);
            a.push(r14);
            a.pop(rbx);
            a.mov(sil, 0x99);                            // SIL, not DH
            a.mov(edi, 0);
            a.hlt();
            a.Label(ref data);
            a.dq(0x1111_1111_1111_1111UL);
            a.Label(ref result);
            a.dq(0UL);
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();

        Assert.Equal(0x1234_5678_9ABC_DF00UL, s.R8);
        Assert.Equal(5UL, s.R9);
        Assert.Equal(0xFFFF_FFFF_FFFF_0007UL, s.R10);
        ulong sum = 0x1111_1111_1111_1111UL + 0x1234_5678_9ABC_DF00UL;
        Assert.Equal(sum, s.R11);
        Assert.Equal(0xFFFF_FFFF_FFFF_FFFDUL, s.R12);
        Assert.Equal(0UL, s.R13 & 0xFF);                 // no borrow
        Assert.Equal(2UL, s.R14);
        Assert.Equal(1UL, s.R15 & 0xFF);                 // bit 63 shifted into CF
        Assert.Equal((0x1234_5678_9ABC_DF00UL + 3 * 8 - 0x20) & ~0xFFUL | 0x99, s.Rsi); // LEA, then SIL
        Assert.Equal(0xFFFF_FFFF_FFFF_FFFDUL, s.Rdx);
        Assert.Equal(2UL, s.Rbx);
        Assert.Equal(LongModeMachine.Stack0, s.Rsp);
        Assert.Equal(0UL, s.Rdi);
        ulong stored = 0;
        for (uint addr = LongModeMachine.Code; addr < LongModeMachine.Code + 0x200; addr++)
            if (l.Qword(addr) == 0x1111_1111_1111_1111UL)
            {
                stored = l.Qword(addr + 8);
                break;
            }
        Assert.Equal(sum, stored);
    }

    [Fact]
    public void A_page_fault_in_4_level_paging_reports_the_64_bit_address_in_CR2_and_the_error_code()
    {
        using var l = new LongModeMachine();
        const ulong high = 0x0000_7F80_1234_5678;           // PML4 entry 255: not present
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, (long)high);
            a.mov(__qword_ptr[rax], rcx);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(14UL, s.Rdi);
        Assert.Equal(high, s.Cr2);
        Assert.Equal(2UL, l.Qword(LongModeMachine.Stack0 - 48));      // error code: not present, write, supervisor
        Assert.Equal((ulong)LongModeMachine.Code + 10, l.Qword(LongModeMachine.Stack0 - 40)); // RIP of the faulting MOV
    }

    [Fact]
    public void A_user_access_to_a_supervisor_page_and_a_non_canonical_address_fault_as_on_hardware()
    {
        using var l = new LongModeMachine();
        l.SetQword(LongModeMachine.PageTable + 8 * (LongModeMachine.Data >> 12), LongModeMachine.Data | 3); // supervisor only
        l.Write(LongModeMachine.UserCode, a =>
        {
            a.mov(eax, __dword_ptr[LongModeMachine.Data + 0x10]);
            a.hlt();
        });
        StartUser(l, LongModeMachine.UserCode);
        var s = l.RunToHalt();
        Assert.Equal(14UL, s.Rdi);
        Assert.Equal((ulong)LongModeMachine.Data + 0x10, s.Cr2);
        Assert.Equal(5UL, l.Qword(LongModeMachine.Stack0 - 48)); // present, read, user

        using var n = new LongModeMachine();
        n.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, unchecked((long)0x8000_0000_0000_0000));
            a.mov(rcx, __qword_ptr[rax]);
            a.hlt();
        });
        n.Start(LongModeMachine.Code);
        s = n.RunToHalt();
        Assert.Equal(13UL, s.Rdi);
        Assert.Equal(0UL, n.Qword(LongModeMachine.Stack0 - 48));
    }

    /// <summary>IRETQ from ring 0 to <paramref name="userRip"/> in 64-bit ring-3 code with RSP = UserStack.</summary>
    private static void StartUser(LongModeMachine l, uint userRip)
    {
        l.Write(LongModeMachine.Code, a =>
        {
            a.push(LongModeMachine.UserDataSelector);
            a.push((int)LongModeMachine.UserStack);
            a.push(0x202);
            a.push(LongModeMachine.UserCodeSelector);
            a.push((int)userRip);
            a.iretq();
        });
        l.Start(LongModeMachine.Code);
    }

    [Fact]
    public void IRETQ_drops_to_ring_3_and_INT_from_ring_3_lands_on_RSP0_with_the_64_bit_frame()
    {
        using var l = new LongModeMachine();
        l.SetGate(0x80, LongModeMachine.FaultStubs + 16 * 0x80, dpl: 3);
        uint intAt = 0;
        l.Write(LongModeMachine.UserCode, a =>
        {
            a.mov(r8, 0x0123_4567_89AB_CDEF);
            a.sub(rsp, 8);                               // misaligned: the handler's stack is aligned anyway
            a.@int(0x80);
            a.hlt();
        });
        // mov r8, imm64 (10 bytes) + sub rsp, 8 (4 bytes) + int 80h (2 bytes)
        intAt = LongModeMachine.UserCode + 14;
        StartUser(l, LongModeMachine.UserCode);
        var s = l.RunToHalt();

        Assert.Equal(0x80UL, s.Rdi);
        Assert.Equal((ushort)LongModeMachine.KernelCodeSelector, s.Cs.Selector);
        Assert.Equal((ushort)0, s.Ss.Selector);                     // null SS with RPL 0
        Assert.Equal(LongModeMachine.Stack0 - 40, s.Rsp);
        Assert.Equal(0x0123_4567_89AB_CDEFUL, s.R8);
        Assert.Equal(intAt + 2, l.Qword(LongModeMachine.Stack0 - 40));                // RIP after INT
        Assert.Equal((ulong)LongModeMachine.UserCodeSelector, l.Qword(LongModeMachine.Stack0 - 32));
        Assert.Equal(0x202UL, l.Qword(LongModeMachine.Stack0 - 24) & 0x3FF202);      // RFLAGS: IF as IRETQ set it
        Assert.Equal(LongModeMachine.UserStack - 8, l.Qword(LongModeMachine.Stack0 - 16)); // user RSP
        Assert.Equal((ulong)LongModeMachine.UserDataSelector, l.Qword(LongModeMachine.Stack0 - 8));
        Assert.Equal(0UL, s.Rflags & 0x200);                         // an interrupt gate clears IF
    }

    [Fact]
    public void A_gate_with_an_IST_index_switches_to_that_stack_and_IRETQ_returns_to_ring_3()
    {
        using var l = new LongModeMachine();
        const uint handler = 0x40000;
        l.SetGate(0x81, handler, dpl: 3, ist: 1);
        l.Write(handler, a =>
        {
            a.mov(r9, rsp);
            a.iretq();
        });
        l.Write(LongModeMachine.UserCode, a =>
        {
            a.@int(0x81);
            a.mov(r10, rsp);
            a.mov(r11d, 1);
            a.mov(ax, cs);
            a.@int(3);                                   // the breakpoint gate has DPL 0: #GP from ring 3
        });
        StartUser(l, LongModeMachine.UserCode);
        var s = l.RunToHalt();

        Assert.Equal(LongModeMachine.IstStack - 40, s.R9);
        Assert.Equal((ulong)LongModeMachine.UserStack, s.R10);
        Assert.Equal(1UL, s.R11);
        Assert.Equal(0x1BUL, s.Rax & 0xFFFF);
        Assert.Equal(13UL, s.Rdi);                                    // #GP(3 * 8 + 2)
        Assert.Equal(3UL * 8 + 2, l.Qword(LongModeMachine.Stack0 - 48));
    }

    /// <summary>Maps the first 2 MiB a second time at <see cref="High"/>, the link address of an x86-64 kernel.</summary>
    private const ulong High = 0xFFFF_FFFF_8000_0000;

    private static void MapHigh(LongModeMachine l)
    {
        const uint highPdpt = 0xA000;
        l.SetQword(LongModeMachine.Pml4 + 511 * 8, highPdpt | 7);
        l.SetQword(highPdpt + 510 * 8, LongModeMachine.PageDirectory | 7);
    }

    [Fact]
    public void Code_runs_at_a_kernel_link_address_in_the_upper_half_with_calls_RIP_relative_data_and_faults()
    {
        using var l = new LongModeMachine();
        MapHigh(l);
        const uint highCode = 0x11000, function = 0x11800;
        l.SetQword(LongModeMachine.Data, 0x1122_3344_5566_7788);
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, High + highCode);
            a.jmp(rax);
        });
        l.M.Memory.Write(highCode, TestMachine.Assemble(64, High + highCode, a =>
        {
            a.call(High + function);                      // relative, pushes a 64-bit return address
            a.mov(r9, __qword_ptr[High + LongModeMachine.Data]); // RIP-relative, 2 GiB below the code's own page
            var ud = a.CreateLabel();
            a.lea(r10, __[ud]);
            a.Label(ref ud);
            a.ud2();
        }));
        l.M.Memory.Write(function, TestMachine.Assemble(64, High + function, a =>
        {
            a.mov(r8, __qword_ptr[rsp]);
            a.ret();
        }));
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();

        Assert.Equal(6UL, s.Rdi);                                         // #UD
        Assert.Equal(High + highCode + 5, s.R8);                          // the return address
        Assert.Equal(0x1122_3344_5566_7788UL, s.R9);
        Assert.True(s.R10 > High + highCode && s.R10 < High + highCode + 32, $"{s.R10:x}");
        Assert.Equal(s.R10, l.Qword(LongModeMachine.Stack0 - 40));       // the frame's RIP is the UD2
        Assert.Equal((ulong)LongModeMachine.KernelCodeSelector, l.Qword(LongModeMachine.Stack0 - 32));
    }

    [Fact]
    public void A_jump_to_a_non_canonical_address_is_a_general_protection_fault_at_the_jump()
    {
        using var l = new LongModeMachine();
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, 0x0000_8000_0000_0000);             // 10 bytes
            a.jmp(rax);
        });
        const uint jumpAt = LongModeMachine.Code + 10;
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();

        Assert.Equal(13UL, s.Rdi);
        Assert.Equal(0UL, l.Qword(LongModeMachine.Stack0 - 48));          // error code 0
        Assert.Equal((ulong)jumpAt, l.Qword(LongModeMachine.Stack0 - 40));
    }

    [Fact]
    public void LGDT_and_LTR_take_64_bit_bases_and_an_interrupt_reads_its_IST_stack_from_a_TSS_in_the_upper_half()
    {
        using var l = new LongModeMachine();
        MapHigh(l);
        const uint gdtr = 0x31000, tss2 = 0x32000, istStack = 0x60000;
        // A second TSS descriptor at 30h: base High + tss2, the upper doubleword of the base in the third doubleword.
        ulong tssBase = High + tss2;
        l.SetQword(LongModeMachine.Gdt + 0x30, 0x67 | ((tssBase & 0xFF_FFFF) << 16) | (0x89UL << 40) | ((tssBase >> 24 & 0xFF) << 56));
        l.SetQword(LongModeMachine.Gdt + 0x38, tssBase >> 32);
        l.SetQword(tss2 + 0x24, istStack);                                 // IST1
        l.M.Memory.Write(gdtr, BitConverter.GetBytes((ushort)0x3F));
        l.SetQword(gdtr + 2, High + LongModeMachine.Gdt);
        l.SetGate(0x40, LongModeMachine.FaultStubs + 16 * 0x40, dpl: 0, ist: 1);
        l.Write(LongModeMachine.Code, a =>
        {
            a.lgdt(__[gdtr]);
            a.mov(ax, LongModeMachine.KernelDataSelector);
            a.mov(ds, ax);                                                 // read through the GDT in the upper half
            a.mov(ax, 0x30);
            a.ltr(ax);
            a.@int(0x40);
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();

        Assert.Equal(0x40UL, s.Rdi);
        Assert.Equal(istStack - 40UL, s.Rsp);
        Assert.Equal(High + LongModeMachine.Gdt, s.Gdtr.Base);
        Assert.Equal(tssBase, s.Tr.Base);
    }

    [Fact]
    public void LAHF_and_SAHF_work_in_64_bit_mode_as_CPUID_says()
    {
        using var l = new LongModeMachine();
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, -1L);
            a.stc();
            a.lahf();
            a.mov(rbx, rax);
            a.mov(ah, 0x40);                               // ZF only
            a.sahf();
            a.setz(cl);
            a.setc(dl);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(ulong.MaxValue, s.Rbx | 0xFF00);                         // only AH changed
        Assert.Equal(1UL, (s.Rbx >> 8) & 1);                                  // CF in AH bit 0
        Assert.Equal(1UL, s.Rcx & 0xFF);
        Assert.Equal(0UL, s.Rdx & 0xFF);
    }

    [Fact]
    public void An_instruction_not_implemented_in_64_bit_mode_stops_with_a_clear_error()
    {
        using var l = new LongModeMachine();
        l.Write(LongModeMachine.Code, a =>
        {
            a.enter(16, 0);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var exit = l.M.Cpu.Run();
        Assert.Equal(CpuExitReason.InternalError, exit.Reason);
        Assert.Contains("not implemented", exit.Detail);
        Assert.Contains("enter", exit.Detail);
    }

    [Fact]
    public void BT_BTS_BTR_BTC_BSF_and_TZCNT_in_64_bit_mode_with_64_bit_operands_and_offsets_beyond_the_operand()
    {
        using var l = new LongModeMachine();
        l.SetQword(LongModeMachine.Data, 0);
        l.SetQword(LongModeMachine.Data + 8, 0);
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rdi, LongModeMachine.Data);
            a.mov(rcx, 70);
            a.bts(__qword_ptr[rdi], rcx);                // bit 6 of the next quadword
            a.setc(r8b);
            a.bt(__qword_ptr[rdi], rcx);
            a.setc(r9b);
            a.mov(rax, -1L);
            a.btr(rax, 63);
            a.mov(rbx, 0x0000_0100_0000_0000);
            a.bsf(rdx, rbx);
            a.mov(rsi, 77);
            a.xor(r10d, r10d);
            a.tzcnt(rsi, r10);                           // BSF on this CPU: zero source, ZF set, RSI kept
            a.setz(r11b);
            a.mov(r12, -8L);
            a.btc(__dword_ptr[rdi + 8], r12d);           // a negative offset: bit 24 of the dword 4 bytes below
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(0x40UL, l.Qword(LongModeMachine.Data + 8));
        Assert.Equal(0UL, s.R8 & 0xFF);                                      // the bit was clear
        Assert.Equal(1UL, s.R9 & 0xFF);
        Assert.Equal(0x7FFF_FFFF_FFFF_FFFFUL, s.Rax);
        Assert.Equal(40UL, s.Rdx);
        Assert.Equal(77UL, s.Rsi);
        Assert.Equal(1UL, s.R11 & 0xFF);
        Assert.Equal(0x0100_0000UL << 32, l.Qword(LongModeMachine.Data));   // bit 24 of the dword at Data + 4
    }

    [Fact]
    public void MOV_to_and_from_debug_registers_takes_64_bit_registers_and_a_DR7_with_upper_bits_is_a_general_protection_fault()
    {
        using var l = new LongModeMachine();
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, 0x1234_5678);
            a.mov(dr0, rax);
            a.mov(rbx, -1L);
            a.mov(rbx, dr0);                                       // zero-extended
            a.mov(rcx, 1L << 32);
            a.mov(dr7, rcx);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(0x1234_5678UL, s.Rbx);
        Assert.Equal(13UL, s.Rdi);
    }

    [Fact]
    public void SHLD_and_SHRD_with_REX_W_shift_64_bit_operands_by_CL_or_an_immediate()
    {
        using var l = new LongModeMachine();
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, 0x0123_4567_89AB_CDEF);
            a.mov(rdx, unchecked((long)0xFEDC_BA98_7654_3210));
            a.mov(cl, 68);                                 // masked to 4
            a.shrd(rax, rdx, cl);
            a.setc(r8b);
            a.mov(rbx, 0x8000_0000_0000_0001);
            a.shld(rbx, rdx, 8);
            a.setc(r9b);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(0x0012_3456_789A_BCDEUL, s.Rax);
        Assert.Equal(1UL, s.R8 & 0xFF);                     // bit 3 of the old RAX
        Assert.Equal(0x0000_0000_0000_01FEUL, s.Rbx);
        Assert.Equal(0UL, s.R9 & 0xFF);                     // bit 56 of the old RBX
    }

    [Fact]
    public void ENDBR64_is_a_hint_NOP_and_VERW_checks_a_selector_in_64_bit_mode()
    {
        using var l = new LongModeMachine();
        l.M.Memory.Write(LongModeMachine.Data, BitConverter.GetBytes((ushort)LongModeMachine.KernelDataSelector));
        l.Write(LongModeMachine.Code, a =>
        {
            a.endbr64();
            a.verw(__word_ptr[(ulong)LongModeMachine.Data]);   // RIP-relative, as the kernel's MDS buffer clearing does
            a.setz(al);
            a.mov(cx, LongModeMachine.KernelCodeSelector);
            a.verw(cx);                                          // code is never writable
            a.setz(bl);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(1UL, s.Rax & 0xFF);
        Assert.Equal(0UL, s.Rbx & 0xFF);
    }

    [Fact]
    public void X87_runs_in_64_bit_mode_with_REX_registers_and_RIP_relative_operands()
    {
        using var l = new LongModeMachine();
        const uint area = 0x32000;
        l.SetQword(LongModeMachine.Data, BitConverter.DoubleToUInt64Bits(1.5));
        l.SetQword(LongModeMachine.Data + 8, BitConverter.DoubleToUInt64Bits(2.25));
        l.Write(LongModeMachine.Code, a =>
        {
            a.fninit();
            a.fld(__qword_ptr[(ulong)LongModeMachine.Data]);          // RIP-relative
            a.mov(r8, LongModeMachine.Data + 8);
            a.fmul(__qword_ptr[r8]);                                  // REX.B base
            a.fistp(__dword_ptr[r8 + 8]);
            a.fld1();
            a.fstp(__qword_ptr[(ulong)LongModeMachine.Data + 24]);
            a.fnstsw(ax);
            a.mov(r9, area);
            a.fxsave(__[r9]);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(3u, BitConverter.ToUInt32(l.M.Memory.Read(LongModeMachine.Data + 16, 4)));     // 3.375 rounded
        Assert.Equal(1.0, BitConverter.UInt64BitsToDouble(l.Qword(LongModeMachine.Data + 24)));
        Assert.Equal(0x20UL, s.Rax & 0x38FF);                                                        // PE, TOP 0
        Assert.Equal((ushort)0x37F, BitConverter.ToUInt16(l.M.Memory.Read(area, 2)));                 // FXSAVE's FCW
    }

    [Fact]
    public void With_EFER_NXE_a_fetch_from_an_execute_disable_page_is_a_page_fault_with_the_fetch_bit()
    {
        using var l = new LongModeMachine();
        const uint page = 0x50000;
        l.SetQword(LongModeMachine.PageTable + 8 * (page >> 12), page | 7 | 1UL << 63);
        l.Write(page, a => a.hlt());
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.or(eax, 0x800);                            // NXE (without it bit 63 is reserved)
            a.wrmsr();
            a.mov(rax, __qword_ptr[page]);                // reading it is fine
            a.mov(edx, page);
            a.jmp(rdx);
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(14UL, s.Rdi);
        Assert.Equal((ulong)page, s.Cr2);
        Assert.Equal(0x11UL, l.Qword(LongModeMachine.Stack0 - 48)); // present, instruction fetch
        Assert.Equal((ulong)page, l.Qword(LongModeMachine.Stack0 - 40));
    }

    [Fact]
    public void Compatibility_mode_runs_32_bit_code_between_far_transfers_to_and_from_64_bit_code()
    {
        using var l = new LongModeMachine();
        l.SetQword(LongModeMachine.Gdt + 0x30, 0x00CF9A00_0000FFFF);    // 32-bit ring-0 code
        const uint compat = 0x12000, back = 0x13000;
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rbx, -1L);
            a.push(0x30);
            a.push((int)compat);
            a.db(0x48, 0xCB);                            // RETFQ into compatibility mode
        });
        l.M.Memory.Write(compat, TestMachine.Assemble(32, compat, a =>
        {
            a.mov(ebx, 0x1234_5678);                     // a 32-bit write: the upper half is not kept
            a.add(ebx, 1);
            a.jmp(0x08, back);                           // far JMP into 64-bit code
        }));
        l.Write(back, a =>
        {
            a.mov(rcx, rbx);
            a.@int(0x40);                                // through a 64-bit gate from 64-bit code
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(0x40UL, s.Rdi);
        Assert.Equal(0x1234_5679UL, s.Rcx);
        Assert.Equal((ulong)back + 3 + 2, l.Qword(LongModeMachine.Stack0 - 40));
        Assert.Equal((ulong)LongModeMachine.KernelCodeSelector, l.Qword(LongModeMachine.Stack0 - 32));
    }

    [Fact]
    public void Sixty_four_bit_multiply_divide_rotate_cmov_and_REP_string_moves()
    {
        using var l = new LongModeMachine();
        const uint source = 0x31000, target = 0x32000;
        for (uint k = 0; k < 64; k++) l.SetQword(source + 8 * k, 0x0101_0101_0101_0101UL * k);
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, 0x1_0000_0001L);
            a.mov(rcx, 0x1_0000_0000L);
            a.mul(rcx);                                  // RDX:RAX = 2^64 + 2^32
            a.mov(r8, rdx);
            a.mov(r9, rax);
            a.mov(rax, -7L);
            a.cqo();
            a.mov(rcx, 2);
            a.idiv(rcx);                                 // -3 rest -1
            a.mov(r10, rax);
            a.mov(r11, rdx);
            a.mov(r12, 0x0123_4567_89AB_CDEFL);
            a.rol(r12, 8);
            a.imul(r13, r12, -2);
            a.mov(r14, 5);
            a.cmp(r14, 6);
            a.cmovb(r14, r12);                           // taken: 5 < 6
            a.mov(rsi, source);
            a.mov(rdi, target);
            a.mov(ecx, 64);
            a.cld();
            a.rep.movsq();
            a.mov(r15, rcx);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(1UL, s.R8);
        Assert.Equal(0x1_0000_0000UL, s.R9);
        Assert.Equal(unchecked((ulong)-3L), s.R10);
        Assert.Equal(unchecked((ulong)-1L), s.R11);
        Assert.Equal(0x2345_6789_ABCD_EF01UL, s.R12);
        Assert.Equal(unchecked(0x2345_6789_ABCD_EF01UL * (ulong)-2L), s.R13);
        Assert.Equal(s.R12, s.R14);
        Assert.Equal(0UL, s.R15);
        Assert.Equal((ulong)source + 512, s.Rsi);
        for (uint k = 0; k < 64; k++) Assert.Equal(0x0101_0101_0101_0101UL * k, l.Qword(target + 8 * k));
    }

    [Fact]
    public void A_zero_divisor_in_64_bit_DIV_is_a_divide_error()
    {
        using var l = new LongModeMachine();
        l.Write(LongModeMachine.Code, a =>
        {
            a.xor(ecx, ecx);
            a.div(rcx);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        Assert.Equal(0UL, l.RunToHalt().Rdi);
    }

    [Fact]
    public void SYSRETQ_enters_ring_3_and_SYSCALL_comes_back_through_LSTAR_with_RCX_R11_and_SFMASK()
    {
        using var l = new LongModeMachine();
        const uint entry = 0x41000;
        uint syscallAt = 0;
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.or(eax, 1);                                // SCE
            a.wrmsr();
            a.mov(ecx, 0xC000_0081);                     // STAR: SYSCALL CS 08h; SYSRET base 10h (CS 23h, SS 1Bh)
            a.xor(eax, eax);
            a.mov(edx, 0x0010_0008);
            a.wrmsr();
            a.mov(ecx, 0xC000_0082);                     // LSTAR
            a.mov(eax, entry);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(ecx, 0xC000_0084);                     // SFMASK: IF
            a.mov(eax, 0x200);
            a.wrmsr();
            a.mov(rsp, LongModeMachine.UserStack);
            a.mov(ecx, LongModeMachine.UserCode);
            a.mov(r11d, 0x202);
            a.sysretq();
        });
        l.Write(LongModeMachine.UserCode, a =>
        {
            a.mov(bx, cs);
            a.mov(bp, ss);
            a.syscall();
            a.hlt();
        });
        syscallAt = LongModeMachine.UserCode + 3 + 3;     // two "mov r16, sreg" of 3 bytes
        l.Write(entry, a =>
        {
            a.mov(r13, rcx);
            a.mov(r14, r11);
            a.mov(dx, cs);
            a.mov(si, ss);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();

        Assert.Equal(0x23UL, s.Rbx & 0xFFFF);
        Assert.Equal(0x1BUL, s.Rbp & 0xFFFF);
        Assert.Equal(syscallAt + 2, s.R13);
        Assert.Equal(0x202UL, s.R14 & 0x3FF202);
        Assert.Equal(0x08UL, s.Rdx & 0xFFFF);
        Assert.Equal(0x10UL, s.Rsi & 0xFFFF);
        Assert.Equal(0UL, s.Rflags & 0x200);
        Assert.Equal(LongModeMachine.NoException, (uint)s.Rdi);
    }

    [Fact]
    public void Two_MiB_and_1_GiB_pages_map_their_offsets_and_set_the_accessed_and_dirty_bits()
    {
        using var l = new LongModeMachine();
        l.SetQword(LongModeMachine.PageDirectory + 8, 0x87);   // linear 2 MiB-4 MiB: a 2 MiB page at physical 0
        l.SetQword(LongModeMachine.Pdpt + 8, 0x87);            // linear 1 GiB-2 GiB: a 1 GiB page at physical 0
        l.SetQword(LongModeMachine.Data, 0x1122_3344_5566_7788UL);
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, __qword_ptr[0x20_0000 + LongModeMachine.Data]);
            a.mov(ecx, 0x4000_0000 + LongModeMachine.Data + 8);
            a.mov(__qword_ptr[rcx], rax);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(LongModeMachine.NoException, (uint)s.Rdi);
        Assert.Equal(0x1122_3344_5566_7788UL, s.Rax);
        Assert.Equal(0x1122_3344_5566_7788UL, l.Qword(LongModeMachine.Data + 8));
        Assert.Equal(0x87UL | 0x20, l.Qword(LongModeMachine.PageDirectory + 8));   // accessed, not dirty
        Assert.Equal(0x87UL | 0x60, l.Qword(LongModeMachine.Pdpt + 8));            // accessed and dirty
    }

    [Fact]
    public void IRETQ_returns_to_compatibility_mode_code()
    {
        using var l = new LongModeMachine();
        l.SetQword(LongModeMachine.Gdt + 0x30, 0x00CF9A00_0000FFFF);    // 32-bit ring-0 code
        l.SetQword(LongModeMachine.Gdt + 0x38, 0x00CF9200_0000FFFF);    // flat 32-bit data: compatibility mode checks limits
        const uint compat = 0x12000;
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rax, -1L);
            a.push(0x38);
            a.push((int)LongModeMachine.Stack0 - 0x100);
            a.push(2);
            a.push(0x30);
            a.push((int)compat);
            a.iretq();
        });
        l.M.Memory.Write(compat, TestMachine.Assemble(32, compat, a =>
        {
            a.mov(eax, 7);
            a.push(eax);                                 // a 4-byte push: 32-bit stack rules
            a.hlt();
        }));
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal((ushort)0x30, s.Cs.Selector);
        Assert.Equal(7UL, s.Rax);
        Assert.Equal(LongModeMachine.Stack0 - 0x104, s.Rsp);
        Assert.Equal(7UL, l.Qword(LongModeMachine.Stack0 - 0x104) & 0xFFFF_FFFF);
    }

    [Fact]
    public void REPNE_SCASB_REPE_CMPSB_and_LEAVE_in_64_bit_mode()
    {
        using var l = new LongModeMachine();
        l.M.Memory.Write(0x31000, "hello, long mode\0"u8.ToArray());
        l.M.Memory.Write(0x32000, "hello, world"u8.ToArray());
        l.Write(LongModeMachine.Code, a =>
        {
            a.mov(rdi, 0x31000);
            a.xor(eax, eax);
            a.mov(rcx, -1L);
            a.cld();
            a.repne.scasb();                             // strlen
            a.not(rcx);
            a.dec(rcx);
            a.mov(r8, rcx);
            a.mov(rsi, 0x31000);
            a.mov(rdi, 0x32000);
            a.mov(ecx, 12);
            a.repe.cmpsb();                              // first difference after "hello, "
            a.mov(r9, rsi);
            a.push(rbp);
            a.mov(rbp, rsp);
            a.sub(rsp, 0x40);
            a.mov(rbp, rbp);
            a.leave();
            a.mov(r10, rsp);
            a.hlt();
        });
        l.Start(LongModeMachine.Code);
        var s = l.RunToHalt();
        Assert.Equal(16UL, s.R8);
        Assert.Equal(0x31000UL + 8, s.R9);
        Assert.Equal((ulong)LongModeMachine.Stack0, s.R10);
    }
}
