using Iced.Intel;
using VirtShell.Cpu.Interpreter;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Conformance;

public sealed record MipsResult(string Name, CpuTier Tier, long Instructions, TimeSpan Wall, TimeSpan ThreadCpu, TranslationStatistics Translation)
{
    public override string ToString() =>
        $"{Name} [{Tier.ToString().ToLowerInvariant()}]: {Instructions:N0} instructions, {Instructions / Wall.TotalSeconds / 1e6:F1} MIPS wall clock, " +
        $"{Instructions / ThreadCpu.TotalSeconds / 1e6:F1} MIPS per CPU-second of the running thread" +
        (Translation.Blocks == 0 ? "" :
            $"; {Translation.Blocks} blocks, {Translation.Instructions} guest instructions compiled " +
            $"({Translation.CompileTime.TotalMicroseconds / Translation.Instructions:F1} µs each), {Translation.IlBytes} bytes of IL");
}

/// <summary>
/// The speed measurement: an ALU/memory/branch loop (add, store, load-xor, inc, and, dec, jnz) run in 16-bit real
/// mode and in flat 32-bit protected mode. Run it from a Release build (`VirtShell.Conformance --mips`).
/// </summary>
public static class MipsBenchmark
{
    private const int Outer = 200, Inner = 50000;
    public const long ExpectedInstructions = Outer * (1L + Inner * 7 + 2) + 2;

    public static MipsResult RealMode(CpuTier tier = CpuTier.Interpreter) => Run("16-bit real-mode loop", bits32: false, tier);
    public static MipsResult ProtectedMode(CpuTier tier = CpuTier.Interpreter) => Run("32-bit protected-mode loop", bits32: true, tier);

    private static MipsResult Run(string name, bool bits32, CpuTier tier)
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 2 << 20);
        using var cpu = new InterpreterCpu(memory, new IoPortBus(), new MmioBus(), null) { Tier = tier };
        var state = CpuState.RealMode(0x1000, 0);
        state.Ds = SegmentState.Real(0x2000);
        ulong codeAt = 0x10000;
        if (bits32)
        {
            codeAt = 0x100000;
            state.Cs = SegmentState.Flat32(0x08, code: true);
            state.Ds = state.Es = state.Ss = SegmentState.Flat32(0x10, code: false);
            state.Cr0 = 0x11;
            state.Rip = codeAt;
        }
        memory.Write(codeAt, Assemble(bits32, codeAt));
        cpu.SetState(state);
        var (exit, wall, threadCpu) = ThreadClock.Measure(cpu.Run);
        if (exit.Reason != CpuExitReason.Halted || cpu.InstructionsRetired != ExpectedInstructions)
            throw new InvalidOperationException($"{name}: stopped with {exit.Reason} after {cpu.InstructionsRetired} instructions: {exit.Detail}");
        return new MipsResult(name, tier, cpu.InstructionsRetired, wall, threadCpu, cpu.Translation);
    }

    private static byte[] Assemble(bool bits32, ulong ip)
    {
        var a = new Assembler(bits32 ? 32 : 16);
        var outer = a.CreateLabel();
        var inner = a.CreateLabel();
        if (bits32)
        {
            a.mov(edx, Outer);
            a.Label(ref outer);
            a.mov(ecx, Inner);
            a.Label(ref inner);
            a.add(eax, ecx);
            a.mov(__dword_ptr[ebx + 0x20000], eax);
            a.xor(eax, __dword_ptr[ebx + 0x20000]);
            a.inc(ebx);
            a.and(ebx, 0xFF);
            a.dec(ecx);
            a.jnz(inner);
            a.dec(edx);
            a.jnz(outer);
        }
        else
        {
            a.mov(dx, Outer);
            a.Label(ref outer);
            a.mov(cx, Inner);
            a.Label(ref inner);
            a.add(ax, cx);
            a.mov(__word_ptr[bx + 0x200], ax);
            a.xor(ax, __word_ptr[bx + 0x200]);
            a.inc(bx);
            a.and(bx, 0xFF);
            a.dec(cx);
            a.jnz(inner);
            a.dec(dx);
            a.jnz(outer);
        }
        a.hlt();
        using var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), ip);
        return ms.ToArray();
    }
}
