using System.Buffers.Binary;
using Iced.Intel;
using VirtShell.Cpu.Interpreter;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;

namespace VirtShell.Conformance.X87Differential;

/// <summary>
/// The subject: the same sequence on the interpreter in flat 32-bit protected mode at CPL 0, code at 1000h ending in
/// HLT, the data buffer at 10000h (EDI). There is no IDT, so any exception ends the run as a triple fault.
/// </summary>
internal sealed class InterpreterSubject : IDisposable
{
    private const uint CodeAt = 0x1000, DataAt = 0x10000;
    private readonly GuestMemory _memory = new();
    private readonly InterpreterCpu _cpu;

    public InterpreterSubject()
    {
        _memory.AddRam(0, 1 << 20);
        _cpu = new InterpreterCpu(_memory, new IoPortBus(), new MmioBus(), null);
    }

    /// <summary>Runs <paramref name="c"/>; the outcome is null when the run did not end at the HLT (<paramref name="exit"/> says how).</summary>
    public FuzzOutcome? Run(FuzzCase c, out CpuExit exit)
    {
        var a = new Assembler(32);
        foreach (var i in c.Code) a.AddInstruction(i);
        a.hlt();
        using (var ms = new MemoryStream())
        {
            a.Assemble(new StreamCodeWriter(ms), CodeAt);
            _memory.Write(CodeAt, ms.ToArray());
        }
        _memory.Write(DataAt, c.Data);

        var s = new CpuState
        {
            Cs = Flat(0x08, 0x9B), Ss = Flat(0x10, 0x93), Ds = Flat(0x10, 0x93), Es = Flat(0x10, 0x93),
            Fs = Flat(0x10, 0x93), Gs = Flat(0x10, 0x93),
            Tr = new SegmentState { Selector = 0x18, Base = 0, Limit = 0x67, Attributes = 0x8B },
            Ldtr = new SegmentState(),
            Gdtr = new DescriptorTableState(), Idtr = new DescriptorTableState(),
            Cr0 = 0x31, // PE, ET, NE
            Rip = CodeAt,
            Rsp = 0x8000,
            Rflags = 0x2 | c.Flags,
            Rax = c.Gpr[0], Rcx = c.Gpr[1], Rdx = c.Gpr[2], Rbx = c.Gpr[3], Rbp = c.Gpr[4], Rsi = c.Gpr[5], Rdi = DataAt,
        };
        var image = c.Fxsave.AsSpan();
        s.Fpu.Fcw = BinaryPrimitives.ReadUInt16LittleEndian(image);
        s.Fpu.Fsw = BinaryPrimitives.ReadUInt16LittleEndian(image[2..]);
        s.Fpu.Ftw = image[4];
        for (int i = 0; i < 8; i++)
            s.Fpu.St[i] = BinaryPrimitives.ReadUInt64LittleEndian(image[(32 + 16 * i)..]) |
                          (UInt128)BinaryPrimitives.ReadUInt16LittleEndian(image[(40 + 16 * i)..]) << 64;
        _cpu.SetState(s);

        exit = _cpu.Run();
        if (exit.Reason != CpuExitReason.Halted) return null;
        var r = _cpu.GetState();
        var fx = new byte[512];
        BinaryPrimitives.WriteUInt16LittleEndian(fx, r.Fpu.Fcw);
        BinaryPrimitives.WriteUInt16LittleEndian(fx.AsSpan(2), r.Fpu.Fsw);
        fx[4] = r.Fpu.Ftw;
        for (int i = 0; i < 8; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(fx.AsSpan(32 + 16 * i), (ulong)r.Fpu.St[i]);
            BinaryPrimitives.WriteUInt16LittleEndian(fx.AsSpan(40 + 16 * i), (ushort)(r.Fpu.St[i] >> 64));
        }
        return new FuzzOutcome
        {
            Gpr = [(uint)r.Rax, (uint)r.Rcx, (uint)r.Rdx, (uint)r.Rbx, (uint)r.Rbp, (uint)r.Rsi],
            Flags = (uint)r.Rflags,
            Fxsave = fx,
            Data = _memory.Read(DataAt, FuzzCase.DataSize),
        };
    }

    private static SegmentState Flat(ushort selector, ushort access) =>
        new() { Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, Attributes = (ushort)(access | 0xC000) };

    public void Dispose()
    {
        _cpu.Dispose();
        _memory.Dispose();
    }
}
