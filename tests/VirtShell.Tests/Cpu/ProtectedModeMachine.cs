using Iced.Intel;
using VirtShell.Engine.Cpu;

namespace VirtShell.Tests.Cpu;

/// <summary>
/// A TestMachine started directly in flat 32-bit protected mode at CPL 0, for the system-level tests (gates, task
/// switches, MSRs). GDT: 08h ring-0 code, 10h ring-0 data, 1Bh ring-3 code, 23h ring-3 data, 28h the running task's
/// 32-bit TSS (busy, ring-0 stack 10h:<see cref="Stack0"/>); entries from 30h on are the test's. Every IDT vector is an
/// interrupt gate to a stub at <see cref="FaultStubs"/> + 16 * vector that does "mov edi, vector; hlt", so a test sees
/// which exception was taken (EDI) and finds the error code and return address on the stack.
/// </summary>
internal sealed class ProtectedModeMachine : IDisposable
{
    public const uint Gdt = 0x1000, Idt = 0x2000, MainTss = 0x3000, FaultStubs = 0x9000, Code = 0x10000, Stack0 = 0x80000;
    public const ushort KernelCode = 0x08, KernelData = 0x10, UserCode = 0x1B, UserData = 0x23, MainTssSelector = 0x28;
    /// <summary>No exception stub has run.</summary>
    public const uint NoException = 0xFFFF_FFFF;

    public TestMachine M { get; } = new();

    /// <summary>The running task's TSS limit; raise it with <see cref="SetMainTssLimit"/> to give the TSS an I/O bitmap.</summary>
    public uint MainTssLimit { get; private set; } = 0x67;

    public ProtectedModeMachine()
    {
        SetGdt(1, Segment(0, 0xFFFF_FFFF, 0x9A));
        SetGdt(2, Segment(0, 0xFFFF_FFFF, 0x92));
        SetGdt(3, Segment(0, 0xFFFF_FFFF, 0xFA));
        SetGdt(4, Segment(0, 0xFFFF_FFFF, 0xF2));
        SetMainTssLimit(0x67);
        M.Memory.Write(MainTss + 4, BitConverter.GetBytes(Stack0));
        M.Memory.Write(MainTss + 8, BitConverter.GetBytes((uint)KernelData));
        for (int v = 0; v < 256; v++)
        {
            SetIdt(v, Gate(KernelCode, FaultStubs + 16 * (uint)v, 0x8E));
            Write(FaultStubs + 16 * (uint)v, a => { a.mov(AssemblerRegisters.edi, v); a.hlt(); });
        }
    }

    /// <summary>A code or data segment descriptor (access byte as in the SDM); byte granularity up to 1 MiB, pages beyond.</summary>
    public static ulong Segment(uint baseAddress, uint limit, byte access, bool big = true)
    {
        ulong flags = big ? 0x4UL : 0;
        if (limit > 0xFFFFF)
        {
            limit >>= 12;
            flags |= 0x8;
        }
        return (limit & 0xFFFF) | ((ulong)(baseAddress & 0xFF_FFFF) << 16) | ((ulong)access << 40) |
               ((ulong)(limit >> 16 & 0xF) << 48) | (flags << 52) | ((ulong)(baseAddress >> 24) << 56);
    }

    /// <summary>A gate descriptor: call gate (access 8Ch/84h), task gate (85h), interrupt or trap gate (8Eh/8Fh).</summary>
    public static ulong Gate(ushort selector, uint offset, byte access, int paramCount = 0) =>
        (offset & 0xFFFF) | ((ulong)selector << 16) | ((ulong)paramCount << 32) | ((ulong)access << 40) | ((ulong)(offset >> 16) << 48);

    public void SetMainTssLimit(uint limit)
    {
        MainTssLimit = limit;
        SetGdt(MainTssSelector / 8, Segment(MainTss, limit, 0x8B, big: false));
    }

    public void SetGdt(int index, ulong descriptor) => M.Memory.Write(Gdt + 8 * (uint)index, BitConverter.GetBytes(descriptor));
    public void SetIdt(int vector, ulong descriptor) => M.Memory.Write(Idt + 8 * (uint)vector, BitConverter.GetBytes(descriptor));
    public byte GdtAccessByte(int index) => M.Memory.Read(Gdt + 8 * (uint)index + 5, 1)[0];

    public void Write(uint address, Action<Assembler> code, int bitness = 32) =>
        M.Memory.Write(address, TestMachine.Assemble(bitness, address, code));

    public uint Dword(uint address) => BitConverter.ToUInt32(M.Memory.Read(address, 4));
    public ushort Word(uint address) => M.Word(address);
    public void SetDword(uint address, uint value) => M.Memory.Write(address, BitConverter.GetBytes(value));

    /// <summary>Starts ring-0 code at <paramref name="eip"/> with ESP = <see cref="Stack0"/>.</summary>
    public void Start(uint eip)
    {
        var s = new CpuState
        {
            Cs = Flat(KernelCode, 0x9B), Ss = Flat(KernelData, 0x93), Ds = Flat(KernelData, 0x93), Es = Flat(KernelData, 0x93),
            Fs = Flat(KernelData, 0x93), Gs = Flat(KernelData, 0x93),
            Tr = new SegmentState { Selector = MainTssSelector, Base = MainTss, Limit = MainTssLimit, Attributes = 0x8B },
            Ldtr = new SegmentState(),
            Gdtr = new DescriptorTableState { Base = Gdt, Limit = 0x7FF },
            Idtr = new DescriptorTableState { Base = Idt, Limit = 0x7FF },
            Cr0 = 0x11,
            Rip = eip,
            Rsp = Stack0,
            Rdi = NoException,
        };
        M.Cpu.SetState(s);
    }

    private static SegmentState Flat(ushort selector, ushort access) =>
        new() { Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, Attributes = (ushort)(access | 0xC000) };

    /// <summary>Runs to the first HLT and returns the state; anything but a halt fails the test with the exit's detail.</summary>
    public CpuState RunToHalt()
    {
        var exit = M.Cpu.Run();
        Xunit.Assert.True(exit.Reason == CpuExitReason.Halted, $"{exit.Reason}: {exit.Detail}");
        return M.Cpu.GetState();
    }

    public void Dispose() => M.Dispose();
}
