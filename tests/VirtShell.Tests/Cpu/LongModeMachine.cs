using Iced.Intel;
using VirtShell.Engine.Cpu;

namespace VirtShell.Tests.Cpu;

/// <summary>
/// A TestMachine started directly in 64-bit mode at CPL 0. 4-level paging maps the 2 MiB of RAM one to one with 4 KiB
/// pages (user, writable; a test may change a page table entry). GDT: 08h 64-bit ring-0 code, 10h ring-0 data,
/// 1Bh 64-bit ring-3 code, 23h ring-3 data, 28h the 64-bit TSS (RSP0 = <see cref="Stack0"/>, IST1 = <see cref="IstStack"/>).
/// Every IDT vector is a 64-bit interrupt gate to a stub at <see cref="FaultStubs"/> + 16 * vector doing
/// "mov edi, vector; hlt", so a test sees which exception was taken and finds its frame on the stack.
/// </summary>
internal sealed class LongModeMachine : IDisposable
{
    public const uint Pml4 = 0x1000, Pdpt = 0x2000, PageDirectory = 0x3000, PageTable = 0x4000, Gdt = 0x5000, Tss = 0x6000,
        Idt = 0x7000, FaultStubs = 0x9000, Code = 0x10000, UserCode = 0x20000, Data = 0x30000, UserStack = 0x70000,
        Stack0 = 0x80000, IstStack = 0x90000;
    public const ushort KernelCodeSelector = 0x08, KernelDataSelector = 0x10, UserCodeSelector = 0x1B, UserDataSelector = 0x23, TssSelector = 0x28;
    public const uint NoException = 0xFFFF_FFFF;

    public TestMachine M { get; } = new();

    public LongModeMachine()
    {
        SetQword(Pml4, Pdpt | 7);
        SetQword(Pdpt, PageDirectory | 7);
        SetQword(PageDirectory, PageTable | 7);
        for (uint page = 0; page < 512; page++) SetQword(PageTable + 8 * page, page << 12 | 7);
        SetQword(Gdt + 0x08, 0x00209A00_00000000);
        SetQword(Gdt + 0x10, 0x00009200_00000000);
        SetQword(Gdt + 0x18, 0x0020FA00_00000000);
        SetQword(Gdt + 0x20, 0x0000F200_00000000);
        SetQword(Gdt + 0x28, 0x67 | ((ulong)Tss << 16) | (0x8BUL << 40)); // busy 64-bit TSS, base below 16 MiB
        SetQword(Tss + 4, Stack0);
        SetQword(Tss + 0x24, IstStack);
        for (int v = 0; v < 256; v++)
        {
            SetGate(v, FaultStubs + 16 * (uint)v, dpl: 0);
            Write(FaultStubs + 16 * (uint)v, a => { a.mov(AssemblerRegisters.edi, v); a.hlt(); });
        }
    }

    /// <summary>A 64-bit interrupt gate (trap gate with <paramref name="trap"/>) to ring-0 code, optionally on an IST stack.</summary>
    public void SetGate(int vector, uint offset, int dpl, int ist = 0, bool trap = false)
    {
        ulong low = (offset & 0xFFFF) | ((ulong)KernelCodeSelector << 16) | ((ulong)ist << 32) |
                    ((ulong)(0x80 | dpl << 5 | (trap ? 0xF : 0xE)) << 40) | ((ulong)(offset >> 16) << 48);
        SetQword(Idt + 16 * (uint)vector, low);
        SetQword(Idt + 16 * (uint)vector + 8, 0);
    }

    public void Write(uint address, Action<Assembler> code) => M.Memory.Write(address, TestMachine.Assemble(64, address, code));

    public void SetQword(uint address, ulong value) => M.Memory.Write(address, BitConverter.GetBytes(value));
    public ulong Qword(uint address) => BitConverter.ToUInt64(M.Memory.Read(address, 8));

    /// <summary>Starts ring-0 64-bit code at <paramref name="rip"/> with RSP = <see cref="Stack0"/>.</summary>
    public void Start(uint rip)
    {
        var data = new SegmentState { Selector = KernelDataSelector, Limit = 0xFFFF_FFFF, Attributes = 0xC093 };
        var s = new CpuState
        {
            Cs = new SegmentState { Selector = KernelCodeSelector, Limit = 0xFFFF_FFFF, Attributes = 0xA09B },
            Ss = data, Ds = data, Es = data, Fs = data, Gs = data,
            Tr = new SegmentState { Selector = TssSelector, Base = Tss, Limit = 0x67, Attributes = 0x8B },
            Ldtr = new SegmentState(),
            Gdtr = new DescriptorTableState { Base = Gdt, Limit = 0x3F }, // 30h and 38h are free for a test
            Idtr = new DescriptorTableState { Base = Idt, Limit = 0xFFF },
            Cr0 = 0x8000_0011, Cr3 = Pml4, Cr4 = 0x20, Efer = 0x500,
            Rip = rip,
            Rsp = Stack0,
            Rdi = NoException,
        };
        M.Cpu.SetState(s);
    }

    public CpuState RunToHalt()
    {
        var exit = M.Cpu.Run();
        Xunit.Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        return M.Cpu.GetState();
    }

    public void Dispose() => M.Dispose();
}
