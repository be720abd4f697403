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
}
