using Iced.Intel;
using VirtShell.Engine.Cpu;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using P = VirtShell.Tests.Cpu.ProtectedModeMachine;

namespace VirtShell.Tests.Cpu;

/// <summary>MOV to and from DR0-DR7, instruction breakpoints, and the DR4/DR5, CPL and general-detect rules.</summary>
public sealed class DebugRegisterTests
{
    private const uint Results = 0x20000, Ring3 = 0x30000, DebugHandler = 0x40000;

    // 0F 21 /r is MOV r32, DRn and 0F 23 /r MOV DRn, r32; the register form only (ModR/M C0 | n << 3 | r32).
    private static void MovFromDr(Assembler a, int dr, int gpr) => a.db(0x0F, 0x21, (byte)(0xC0 | (dr << 3) | gpr));
    private static void MovToDr(Assembler a, int dr, int gpr) => a.db(0x0F, 0x23, (byte)(0xC0 | (dr << 3) | gpr));
    private const int Eax = 0, Ecx = 1;

    [Fact]
    public void Dr0_to_dr3_hold_addresses_dr6_and_dr7_have_their_fixed_bits_and_dr4_dr5_alias_them()
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            for (int n = 0; n < 4; n++)
            {
                a.mov(eax, 0x1111_1111 * (uint)(n + 1));
                MovToDr(a, n, Eax);
            }
            for (int n = 0; n < 4; n++)
            {
                MovFromDr(a, n, Ecx);
                a.mov(__dword_ptr[Results + 4 * (uint)n], ecx);
            }
            a.xor(eax, eax);
            MovToDr(a, 6, Eax);
            MovToDr(a, 7, Eax);
            MovFromDr(a, 6, Ecx); a.mov(__dword_ptr[Results + 16], ecx);
            MovFromDr(a, 7, Ecx); a.mov(__dword_ptr[Results + 20], ecx);
            a.mov(eax, 0x0000_0003);            // DR5 is DR7 while CR4.DE is clear: arm DR0 for execution
            MovToDr(a, 5, Eax);
            MovFromDr(a, 7, Ecx); a.mov(__dword_ptr[Results + 24], ecx);
            MovFromDr(a, 4, Ecx); a.mov(__dword_ptr[Results + 28], ecx);
            a.hlt();
        });
        p.Start(P.Code);
        p.RunToHalt();
        for (uint n = 0; n < 4; n++) Assert.Equal(0x1111_1111 * (n + 1), p.Dword(Results + 4 * n));
        Assert.Equal(0xFFFF_0FF0u, p.Dword(Results + 16));
        Assert.Equal(0x400u, p.Dword(Results + 20));
        Assert.Equal(0x403u, p.Dword(Results + 24));
        Assert.Equal(0xFFFF_0FF0u, p.Dword(Results + 28));
    }

    [Fact]
    public void Dr4_and_dr5_are_invalid_opcodes_with_cr4_de()
    {
        using var p = new P();
        Action<Assembler> setDe = a =>
        {
            a.mov(eax, cr4);
            a.or(eax, 8);                       // CR4.DE
            a.mov(cr4, eax);
            a.mov(ecx, 0x5A5A);
        };
        uint access = P.Code + (uint)TestMachine.Assemble(32, P.Code, setDe).Length;
        p.Write(P.Code, a =>
        {
            setDe(a);
            MovFromDr(a, 4, Ecx);
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(6UL, s.Rdi);               // #UD
        Assert.Equal(access, p.Dword((uint)s.Rsp));
        Assert.Equal(0x5A5AUL, s.Rcx);
    }

    [Fact]
    public void Debug_registers_are_privileged()
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.push(P.UserData);
            a.push(0x70000);
            a.push(P.UserCode);
            a.push((int)Ring3);
            a.retf();
        });
        p.Write(Ring3, a =>
        {
            a.mov(eax, 0x5A5A);
            MovFromDr(a, 0, Eax);
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(13UL, s.Rdi);              // #GP(0) at the MOV, not at the HLT after it
        Assert.Equal(0u, p.Dword((uint)s.Rsp));
        Assert.Equal(Ring3 + 5, p.Dword((uint)s.Rsp + 4));
        Assert.Equal(0x5A5AUL, s.Rax);
    }

    [Fact]
    public void An_instruction_breakpoint_faults_before_the_instruction_and_rf_lets_it_run_once()
    {
        using var p = new P();
        // The #DB handler counts, saves DR6 and the return address, and resumes with RF set in the frame.
        p.SetIdt(1, P.Gate(P.KernelCode, DebugHandler, 0x8E));
        p.Write(DebugHandler, a =>
        {
            a.inc(__dword_ptr[Results]);
            MovFromDr(a, 6, Ecx);
            a.mov(__dword_ptr[Results + 4], ecx);
            a.mov(ecx, __dword_ptr[esp]);
            a.mov(__dword_ptr[Results + 8], ecx);
            a.or(__dword_ptr[esp + 8], 0x10000);
            a.iretd();
        });
        uint target = P.Code + 0x40;
        p.Write(P.Code, a =>
        {
            a.mov(eax, target);
            MovToDr(a, 2, Eax);
            a.mov(eax, 0x30);                   // L2 | G2, execution, length 1
            MovToDr(a, 7, Eax);
            a.xor(ebx, ebx);
            a.mov(edx, 2);
            a.jmp(target);
        });
        var loop = target;
        p.Write(target, a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.inc(ebx);                         // the breakpoint: hit on each of the two passes
            a.dec(edx);
            a.jnz(top);
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(P.NoException, (uint)s.Rdi);
        Assert.Equal(2UL, s.Rbx);               // each pass ran the instruction once
        Assert.Equal(2u, p.Dword(Results));     // and faulted once before it
        Assert.Equal(0xFFFF_0FF4u, p.Dword(Results + 4)); // B2
        Assert.Equal(loop, p.Dword(Results + 8));
    }

    [Fact]
    public void An_instruction_breakpoint_right_after_mov_ss_is_not_taken()
    {
        // kvm-unit-tests' emulator "#DB suppressed after MOV SS": Intel parts inhibit code #DBs in MOV SS's shadow.
        using var p = new P();
        p.SetIdt(1, P.Gate(P.KernelCode, DebugHandler, 0x8E));
        p.Write(DebugHandler, a =>
        {
            a.inc(__dword_ptr[Results]);
            a.or(__dword_ptr[esp + 8], 0x10000);
            a.iretd();
        });
        uint target = P.Code + 0x40;
        p.Write(P.Code, a =>
        {
            a.mov(eax, target);
            MovToDr(a, 0, Eax);
            a.mov(eax, 0x3);                    // L0 | G0, execution, length 1
            MovToDr(a, 7, Eax);
            a.xor(ebx, ebx);
            a.mov(eax, ss);
            a.jmp(target - 2);
        });
        p.Write(target - 2, a =>
        {
            a.mov(ss, eax);                     // 8E D0: the breakpoint is on the instruction after it
            a.inc(ebx);
            a.cmp(ebx, 2);
            a.jb(target);                       // the second pass reaches it by a jump: taken then
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(P.NoException, (uint)s.Rdi);
        Assert.Equal(2UL, s.Rbx);
        Assert.Equal(1u, p.Dword(Results));
    }

    [Fact]
    public void General_detect_raises_db_on_the_next_debug_register_access()
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.mov(eax, 0x2000);                 // DR7.GD
            MovToDr(a, 7, Eax);
            a.mov(ecx, 0x5A5A);
            MovFromDr(a, 0, Ecx);
            a.hlt();
        });
        p.Start(P.Code);
        var s = p.RunToHalt();
        Assert.Equal(1UL, s.Rdi);
        Assert.Equal(P.Code + 5 + 3 + 5, p.Dword((uint)s.Rsp));
        Assert.Equal(0x5A5AUL, s.Rcx);
        // The handler may use the registers: GD is clear and DR6.BD says why it came.
        p.Write(P.FaultStubs + 16, a => { MovFromDr(a, 6, Ecx); MovFromDr(a, 7, Eax); a.hlt(); });
        p.Start(P.Code);
        s = p.RunToHalt();
        Assert.Equal(0xFFFF_2FF0UL, s.Rcx);
        Assert.Equal(0x400UL, s.Rax);
    }

    [Fact]
    public void Arming_a_data_breakpoint_stops_the_machine_as_unimplemented()
    {
        using var p = new P();
        p.Write(P.Code, a =>
        {
            a.mov(eax, 0x0001_0001);            // L0, R/W0 = 01: break on data writes
            MovToDr(a, 7, Eax);
            a.hlt();
        });
        p.Start(P.Code);
        var exit = p.M.Cpu.Run();
        Assert.Equal(CpuExitReason.InternalError, exit.Reason);
        Assert.Contains("data breakpoint", exit.Detail);
    }
}
