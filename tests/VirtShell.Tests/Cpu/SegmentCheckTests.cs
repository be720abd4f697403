using VirtShell.Engine.Cpu;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Cpu;

/// <summary>Protection checks on segment loads and data accesses, the ones test386.asm's POST 0x09 and 0x12 make.</summary>
public sealed class SegmentCheckTests
{
    private const ulong Gdt = 0x10800, GdtPointer = 0x10900;

    /// <summary>Adds descriptors after the flat code (08h) and data (10h) ones, from selector 18h on.</summary>
    private static void AddDescriptors(TestMachine m, params ulong[] descriptors)
    {
        for (int i = 0; i < descriptors.Length; i++) m.Memory.Write(Gdt + 24 + (ulong)i * 8, BitConverter.GetBytes(descriptors[i]));
        m.Memory.Write(GdtPointer, [(byte)(23 + descriptors.Length * 8), 0, .. BitConverter.GetBytes((uint)Gdt)]);
    }

    [Fact]
    public void Pop_ss_advances_sp_by_the_size_of_the_stack_it_pops_from()
    {
        using var m = new TestMachine();
        ProtectedModeTests.LoadProtectedModeProgram(m, a =>
        {
            a.push(0x18);
            a.pop(ss);              // from a 32-bit stack to a 16-bit one: ESP moves as a 32-bit pointer
            a.hlt();
        }, a => a.hlt());
        AddDescriptors(m, 0x008F92000000FFFFUL);   // 18h: data, B=0, 4 GiB
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        var s = m.Cpu.GetState();
        Assert.Equal(0x18, s.Ss.Selector);
        Assert.Equal(0x80000UL, s.Rsp);
    }

    /// <summary>Runs <paramref name="code"/> with DS loaded from <paramref name="dsSelector"/>; the fault handler leaves the vector in EDX and the error code in ECX.</summary>
    private static CpuState RunWithDs(ushort dsSelector, ulong descriptor, Action<Iced.Intel.Assembler> code)
    {
        using var m = new TestMachine();
        const uint gpHandler = 0x10300, ssHandler = 0x10380;
        foreach (var (vector, handler) in new[] { (13, gpHandler), (12, ssHandler) })
            m.Memory.Write(0x11000 + (ulong)vector * 8, BitConverter.GetBytes((handler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((ulong)(handler >> 16) << 48)));
        m.Memory.Write(gpHandler, TestMachine.Assemble(32, gpHandler, a => { a.pop(ecx); a.mov(edx, 13); a.hlt(); }));
        m.Memory.Write(ssHandler, TestMachine.Assemble(32, ssHandler, a => { a.pop(ecx); a.mov(edx, 12); a.hlt(); }));
        ProtectedModeTests.LoadProtectedModeProgram(m, a =>
        {
            a.mov(edx, 0xFFFF);
            a.mov(ax, dsSelector);
            a.mov(ds, ax);
            code(a);
            a.hlt();
        }, a => a.hlt());
        AddDescriptors(m, descriptor);
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        return m.Cpu.GetState();
    }

    [Fact]
    public void A_write_through_a_read_only_data_segment_raises_gp_and_a_read_succeeds()
    {
        var s = RunWithDs(0x18, 0x00CF90000000FFFFUL, a => { a.mov(eax, __dword_ptr[0x100]); a.mov(ebx, 1); a.mov(__dword_ptr[0x100], eax); });
        Assert.Equal(13UL, s.Rdx);
        Assert.Equal(0UL, s.Rcx);
        Assert.Equal(1UL, s.Rbx);
    }

    [Fact]
    public void A_write_through_a_readable_code_segment_raises_gp()
    {
        var s = RunWithDs(0x18, 0x00CF9A000000FFFFUL, a => { a.mov(eax, __dword_ptr[0x100]); a.mov(ebx, 1); a.mov(__byte_ptr[0x100], 0); });
        Assert.Equal(13UL, s.Rdx);
        Assert.Equal(1UL, s.Rbx);
    }

    [Fact]
    public void A_read_through_an_execute_only_code_segment_raises_gp()
    {
        using var m = new TestMachine();
        const uint gpHandler = 0x10300, there = 0x10600;
        m.Memory.Write(0x11000 + 13 * 8, BitConverter.GetBytes((gpHandler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((ulong)(gpHandler >> 16) << 48)));
        m.Memory.Write(gpHandler, TestMachine.Assemble(32, gpHandler, a => { a.pop(ecx); a.pop(esi); a.pop(edi); a.mov(edx, 13); a.hlt(); }));
        m.Memory.Write(there, TestMachine.Assemble(32, there, a =>
        {
            a.mov(ebx, 1);
            a.mov(eax, __dword_ptr.cs[0x100]);  // CS is execute-only: #GP(0)
            a.mov(ebx, 2);
            a.hlt();
        }));
        ProtectedModeTests.LoadProtectedModeProgram(m, a =>
        {
            a.mov(eax, __dword_ptr.cs[0x100]);  // the flat code segment 08h is readable
            a.db(0xEA);                         // jmp far 18h:there
            a.dd(there);
            a.dw(0x18);
        }, a => a.hlt());
        AddDescriptors(m, 0x00CF98000000FFFFUL);
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        var st = m.Cpu.GetState();
        Assert.Equal(0x18UL, st.Rdi);   // the faulting CS
        Assert.Equal(13UL, st.Rdx);
        Assert.Equal(1UL, st.Rbx);
    }

    [Fact]
    public void A_null_data_segment_raises_gp_on_use_not_on_load()
    {
        var s = RunWithDs(0, 0, a => { a.mov(ebx, 1); a.mov(eax, __dword_ptr[0x100]); a.mov(ebx, 2); });
        Assert.Equal(13UL, s.Rdx);
        Assert.Equal(0UL, s.Rcx);
        Assert.Equal(1UL, s.Rbx);
    }

    [Fact]
    public void An_expand_down_segment_allows_offsets_above_its_limit_only()
    {
        // 18h: expand-down read/write data, byte granular, limit 0FFFh, B=1: offsets 1000h..FFFFFFFFh are valid.
        const ulong expandDown = 0x0040960000000FFFUL;
        var s = RunWithDs(0x18, expandDown, a => { a.mov(eax, __dword_ptr[0x2000]); a.mov(ebx, 1); a.mov(eax, __dword_ptr[0xFFE]); a.mov(ebx, 2); });
        Assert.Equal(13UL, s.Rdx);
        Assert.Equal(1UL, s.Rbx);
        // With B=0 the top is FFFFh: a doubleword at FFFEh crosses it.
        s = RunWithDs(0x18, expandDown & ~(1UL << 54), a => { a.mov(eax, __dword_ptr[0xFFFC]); a.mov(ebx, 1); a.mov(eax, __dword_ptr[0xFFFE]); a.mov(ebx, 2); });
        Assert.Equal(13UL, s.Rdx);
        Assert.Equal(1UL, s.Rbx);
    }

    [Fact]
    public void An_access_below_an_expand_down_stack_segment_raises_ss()
    {
        using var m = new TestMachine();
        const uint ssHandler = 0x10380;
        m.Memory.Write(0x11000 + 12 * 8, BitConverter.GetBytes((ssHandler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((ulong)(ssHandler >> 16) << 48)));
        m.Memory.Write(ssHandler, TestMachine.Assemble(32, ssHandler, a => { a.pop(ecx); a.mov(edx, 12); a.hlt(); }));
        ProtectedModeTests.LoadProtectedModeProgram(m, a =>
        {
            a.mov(ax, 0x18);
            a.mov(ss, ax);
            a.mov(esp, 0x2000);
            a.push(eax);                        // to 1FFCh: above the limit, valid
            a.mov(ebx, 1);
            a.mov(eax, __dword_ptr.ss[0xFFC]);  // at or below the limit: #SS(0)
            a.mov(ebx, 2);
            a.hlt();
        }, a => a.hlt());
        AddDescriptors(m, 0x0040960000000FFFUL);
        var exit = m.Cpu.Run();
        Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        var s = m.Cpu.GetState();
        Assert.Equal(12UL, s.Rdx);
        Assert.Equal(0UL, s.Rcx);
        Assert.Equal(1UL, s.Rbx);
    }

    [Fact]
    public void Arpl_leaves_a_read_only_segment_alone_when_the_rpl_does_not_change_and_faults_when_it_would()
    {
        var s = RunWithDs(0x18, 0x00CF90000000FFFFUL, a =>
        {
            a.mov(bx, 2);
            a.arpl(__word_ptr[0x100], bx);   // memory is 0: RPL 0 < 2, a write: #GP
        });
        Assert.Equal(13UL, s.Rdx);
        s = RunWithDs(0x18, 0x00CF90000000FFFFUL, a =>
        {
            a.xor(bx, bx);
            a.arpl(__word_ptr[0x100], bx);   // RPL 0 is not below 0: no write, no fault
            a.mov(ecx, 7);
        });
        Assert.Equal(0xFFFFUL, s.Rdx);
        Assert.Equal(7UL, s.Rcx);
    }
}
