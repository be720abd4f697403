using System.Buffers.Binary;
using VirtShell.Cpu.Interpreter;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Memory;

namespace VirtShell.Fuzz;

/// <summary>
/// The input is machine code for the interpreter: its first byte picks the mode the CPU starts in (real, flat 32-bit
/// protected or 64-bit long mode, each with every exception vector on a HLT), the rest is loaded at 0x10000 (HLTs fill
/// the 64 KiB after it) and run on 2 MiB of RAM with interrupts enabled. A halt, a triple fault or an unimplemented instruction is a normal end;
/// an exception escaping <see cref="InterpreterCpu.Run"/> or caught by it as an interpreter error is a finding.
/// </summary>
internal sealed class InterpreterTarget : IFuzzTarget
{
    private const ulong RamSize = 2 << 20;
    private const uint Pml4 = 0x1000, Pdpt = 0x2000, PageDirectory = 0x3000, PageTable = 0x4000, Gdt = 0x5000, Tss = 0x6000,
        Idt = 0x7000, HaltStub = 0x9000, Code = 0x10000, Stack = 0x80000;
    private const int MaxCode = 0x10000;
    /// <summary>
    /// Block boundaries the CPU may pass with IF set before it is asked to stop: with IF clear it never asks, so a
    /// wall-clock stop (<see cref="StopAfter"/>) backs the count up.
    /// </summary>
    private const int BlockBudget = 5_000;
    private static readonly TimeSpan StopAfter = TimeSpan.FromMilliseconds(25);

    public string Name => "interpreter";

    /// <summary>Never has an interrupt; counts the CPU's polls at block boundaries and stops it when they run out.</summary>
    private sealed class BudgetSource(int polls) : IInterruptSource
    {
        public InterpreterCpu? Cpu { get; set; }

        public bool HasPendingInterrupt
        {
            get
            {
                if (--polls == 0) Cpu?.RequestExit();
                return false;
            }
        }

        public int AcknowledgeInterrupt() => -1;
    }

    public string Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return "empty";
        int mode = input[0] % 3;
        var code = input[1..Math.Min(input.Length, 1 + MaxCode)];

        using var memory = new GuestMemory();
        memory.AddRam(0, RamSize);
        var source = new BudgetSource(BlockBudget);
        using var cpu = new InterpreterCpu(memory, new IoPortBus(), new MmioBus(), source);
        source.Cpu = cpu;
        // Code that runs off its end meets HLTs rather than a long slide through zeroed RAM.
        var area = new byte[MaxCode];
        Array.Fill(area, (byte)0xF4);
        code.CopyTo(area);
        memory.Write(Code, area);
        memory.Write(HaltStub, [0xF4, 0xEB, 0xFD]); // hlt; jmp to the hlt
        cpu.SetState(mode switch
        {
            0 => RealMode(memory),
            1 => ProtectedMode(memory),
            _ => LongMode(memory),
        });

        CpuExit exit;
        using (new Timer(_ => cpu.RequestExit(), null, StopAfter, Timeout.InfiniteTimeSpan))
            exit = cpu.Run();
        // ExitFor turns every exception but its own (triple fault, unimplemented instruction) into this text.
        if (exit.Reason == CpuExitReason.InternalError && exit.Detail?.StartsWith("interpreter error", StringComparison.Ordinal) == true)
            throw new FuzzFindingException(exit.Detail);
        var state = cpu.GetState();
        return $"{exit.Reason} after {cpu.InstructionsRetired} instructions at {state.Cs.Selector:x4}:{state.Rip:x}" +
            (exit.Detail is { } d ? ": " + d.Split('\n')[0] : "");
    }

    private static CpuState RealMode(GuestMemory memory)
    {
        for (uint v = 0; v < 256; v++) memory.Write(v * 4, BitConverter.GetBytes(HaltStub >> 4 << 16)); // 0900:0000
        var s = CpuState.RealMode((ushort)(Code >> 4), 0);
        s.Ss = SegmentState.Real((ushort)(Stack >> 4));
        s.Rsp = 0xFFFE;
        s.Rflags = 0x202;
        return s;
    }

    private static CpuState ProtectedMode(GuestMemory memory)
    {
        Qword(memory, Gdt + 0x08, 0x00CF9A00_0000FFFF); // flat ring-0 code
        Qword(memory, Gdt + 0x10, 0x00CF9200_0000FFFF); // flat ring-0 data
        Qword(memory, Gdt + 0x18, 0x00CFFA00_0000FFFF); // flat ring-3 code
        Qword(memory, Gdt + 0x20, 0x00CFF200_0000FFFF); // flat ring-3 data
        Qword(memory, Gdt + 0x28, 0x0000_8B00_0000_0067 | (ulong)Tss << 16); // busy 32-bit TSS
        memory.Write(Tss + 4, BitConverter.GetBytes(Stack));
        memory.Write(Tss + 8, BitConverter.GetBytes(0x10u));
        for (uint v = 0; v < 256; v++)
            Qword(memory, Idt + 8 * v, (HaltStub & 0xFFFF) | 0x08UL << 16 | 0x8EUL << 40 | (ulong)(HaltStub >> 16) << 48);
        var data = new SegmentState { Selector = 0x10, Limit = 0xFFFF_FFFF, Attributes = 0xC093 };
        return new CpuState
        {
            Cs = new SegmentState { Selector = 0x08, Limit = 0xFFFF_FFFF, Attributes = 0xC09B },
            Ss = data, Ds = data, Es = data, Fs = data, Gs = data,
            Tr = new SegmentState { Selector = 0x28, Base = Tss, Limit = 0x67, Attributes = 0x8B },
            Ldtr = new SegmentState(),
            Gdtr = new DescriptorTableState { Base = Gdt, Limit = 0x2F },
            Idtr = new DescriptorTableState { Base = Idt, Limit = 0x7FF },
            Cr0 = 0x11,
            Rip = Code,
            Rsp = Stack,
            Rflags = 0x202,
        };
    }

    private static CpuState LongMode(GuestMemory memory)
    {
        Qword(memory, Pml4, Pdpt | 7);
        Qword(memory, Pdpt, PageDirectory | 7);
        Qword(memory, PageDirectory, PageTable | 7);
        for (uint page = 0; page < 512; page++) Qword(memory, PageTable + 8 * page, page << 12 | 7);
        Qword(memory, Gdt + 0x08, 0x00209A00_00000000);
        Qword(memory, Gdt + 0x10, 0x00009200_00000000);
        Qword(memory, Gdt + 0x18, 0x0020FA00_00000000);
        Qword(memory, Gdt + 0x20, 0x0000F200_00000000);
        Qword(memory, Gdt + 0x28, 0x67 | (ulong)Tss << 16 | 0x8BUL << 40); // busy 64-bit TSS
        Qword(memory, Tss + 4, Stack);
        for (uint v = 0; v < 256; v++)
        {
            Qword(memory, Idt + 16 * v, (HaltStub & 0xFFFF) | 0x08UL << 16 | 0x8EUL << 40 | (ulong)(HaltStub >> 16) << 48);
            Qword(memory, Idt + 16 * v + 8, 0);
        }
        var data = new SegmentState { Selector = 0x10, Limit = 0xFFFF_FFFF, Attributes = 0xC093 };
        return new CpuState
        {
            Cs = new SegmentState { Selector = 0x08, Limit = 0xFFFF_FFFF, Attributes = 0xA09B },
            Ss = data, Ds = data, Es = data, Fs = data, Gs = data,
            Tr = new SegmentState { Selector = 0x28, Base = Tss, Limit = 0x67, Attributes = 0x8B },
            Ldtr = new SegmentState(),
            Gdtr = new DescriptorTableState { Base = Gdt, Limit = 0x2F },
            Idtr = new DescriptorTableState { Base = Idt, Limit = 0xFFF },
            Cr0 = 0x8000_0011, Cr3 = Pml4, Cr4 = 0x20, Efer = 0x500,
            Rip = Code,
            Rsp = Stack,
            Rflags = 0x202,
        };
    }

    private static void Qword(GuestMemory memory, uint address, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        memory.Write(address, bytes);
    }

    public void Dispose() { }
}
