using Iced.Intel;
using VirtShell.Cpu.Interpreter;
using VirtShell.Engine.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Tests.Cpu;

/// <summary>
/// The translating tier against the interpreter: seeded random blocks of integer instructions drawn from the opcode
/// table run once on each tier (the translator compiling every block on its first run), and the whole state after
/// the block — registers, flags, the data and stack memory, instructions retired — must be the same.
/// </summary>
public sealed class TranslatorDifferentialTests
{
    private const uint Data = 0x40000, DataSize = 0x200;
    /// <summary>With paging the data starts 0x100 below a page boundary, so accesses cross it; the page above may be absent or read-only.</summary>
    private const uint PagedData = 0x3FF00, PageDirectory = 0x70000, PageTable = 0x71000;

    /// <summary>How the page above the boundary the paged data crosses is mapped.</summary>
    public enum DataPage { Unpaged, Present, NotPresent, ReadOnly }

    /// <summary>The integer instructions the generator draws (their every legacy encoding with register, immediate or memory operands).</summary>
    private static readonly Mnemonic[] Drawn =
    [
        Mnemonic.Mov, Mnemonic.Add, Mnemonic.Adc, Mnemonic.Sub, Mnemonic.Sbb, Mnemonic.Cmp, Mnemonic.And, Mnemonic.Or,
        Mnemonic.Xor, Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not, Mnemonic.Lea, Mnemonic.Movzx,
        Mnemonic.Movsx, Mnemonic.Xchg, Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl,
        Mnemonic.Imul, Mnemonic.Mul, Mnemonic.Div, Mnemonic.Push, Mnemonic.Pop, Mnemonic.Setne, Mnemonic.Setb, Mnemonic.Cmovl,
        Mnemonic.Bt, Mnemonic.Bswap, Mnemonic.Stc, Mnemonic.Clc, Mnemonic.Cmc, Mnemonic.Lahf,
    ];

    /// <summary>Registers a block may name: ESI holds the data address and ESP the stack, so neither is drawn.</summary>
    private static readonly Register[] Gpr32 = [Register.EAX, Register.ECX, Register.EDX, Register.EBX, Register.EBP, Register.EDI];
    private static readonly Register[] Gpr16 = [Register.AX, Register.CX, Register.DX, Register.BX, Register.BP, Register.DI];
    private static readonly Register[] Gpr8 = [Register.AL, Register.CL, Register.DL, Register.BL, Register.AH, Register.CH, Register.DH, Register.BH];

    private static readonly Code[] Encodings = InterpreterCpu.Opcodes
        .Where(r => Drawn.Contains(r.Mnemonic) && (r.Modes & CpuModes.Legacy) != 0)
        .SelectMany(InterpreterCpu.Encodings)
        .Select(e => e.Code)
        .Where(c => c.ToOpCode().Mode32 && c.ToOpCode().OpCount > 0 || c.Mnemonic() is Mnemonic.Stc or Mnemonic.Clc or Mnemonic.Cmc or Mnemonic.Lahf)
        .Where(c => Enumerable.Range(0, c.ToOpCode().OpCount).All(n => Operand(c.ToOpCode().GetOpKind(n), new Random(0)) != null))
        .Distinct()
        .ToArray();

    [Fact]
    public void Random_blocks_leave_the_same_state_on_both_tiers() => CompareRandomBlocks(DataPage.Unpaged, loop: false, seeds: 400);

    /// <summary>Memory operands through the inline TLB hit and its slow path: accesses crossing a page boundary, and faults mid-block when the page above it is absent or read-only.</summary>
    [Theory]
    [InlineData(DataPage.Present)]
    [InlineData(DataPage.NotPresent)]
    [InlineData(DataPage.ReadOnly)]
    public void Random_blocks_with_paging_leave_the_same_state_on_both_tiers(DataPage page) => CompareRandomBlocks(page, loop: false, seeds: 200);

    /// <summary>
    /// Loops of two blocks: the first JMPs to the second, which branches back to the first, so compiled passes chain
    /// from block to block without RunLoop (and a block that is the loop alone loops inside its method); a fault in a
    /// later pass must count the earlier ones.
    /// </summary>
    [Theory]
    [InlineData(DataPage.Unpaged)]
    [InlineData(DataPage.NotPresent)]
    public void Random_looping_blocks_leave_the_same_state_on_both_tiers(DataPage page) => CompareRandomBlocks(page, loop: true, seeds: 200);

    private static void CompareRandomBlocks(DataPage page, bool loop, int seeds)
    {
        Assert.True(Encodings.Length > 150, $"only {Encodings.Length} encodings drawn from the table");
        long inlined = 0, compiled = 0;
        for (int seed = 0; seed < seeds; seed++)
        {
            var random = new Random(seed);
            byte[] code = RandomBlock(random, loop, out string listing);
            byte[] data = new byte[DataSize];
            random.NextBytes(data);
            uint[] registers = [.. Enumerable.Range(0, 8).Select(_ => (uint)random.Next() ^ (uint)random.Next() << 16)];
            uint flags = (uint)random.Next(0, 0x1000) & 0x8D5 | 2;
            uint passes = (uint)random.Next(1, 6);

            var (interpreted, _) = Run(code, data, registers, flags, passes, page, CpuTier.Interpreter);
            var (translated, statistics) = Run(code, data, registers, flags, passes, page, CpuTier.Translator);

            Assert.True(interpreted == translated, $"seed {seed}: the tiers differ after\n{listing}\ninterpreter: {interpreted}\ntranslator: {translated}");
            inlined += statistics.InlinedInstructions;
            compiled += statistics.Blocks;
        }
        Assert.True(compiled >= seeds && inlined > seeds, $"{compiled} blocks compiled, {inlined} instructions inlined");
    }

    [Fact]
    public void A_compiled_block_that_patches_its_own_code_runs_the_new_bytes_on_its_next_pass()
    {
        foreach (var tier in new[] { CpuTier.Interpreter, CpuTier.Translator })
        {
            using var p = new ProtectedModeMachine();
            p.M.Cpu.Tier = tier;
            p.M.Cpu.TranslateAfter = 1;
            p.Write(ProtectedModeMachine.Code, a =>
            {
                var loop = a.CreateLabel();
                a.mov(ecx, 3);                                              // B9 imm32: 5 bytes
                a.Label(ref loop);
                a.mov(eax, 1);                                              // B8 imm32 at Code + 5: its immediate at Code + 6
                a.add(ebx, eax);
                a.mov(__dword_ptr[ProtectedModeMachine.Code + 6], 5);
                a.dec(ecx);
                a.jnz(loop);
                a.hlt();
            });
            p.Start(ProtectedModeMachine.Code);
            p.M.Cpu.SetState(WithRegisters(p.M.Cpu.GetState(), rbx: 0));

            var s = p.RunToHalt();

            Assert.True(11UL == s.Rbx, $"{tier}: EBX {s.Rbx} (1 + 5 + 5 expected)");
        }
    }

    /// <summary>
    /// A block whose only flag writers are shifts and rotates by a constant (the 80286 SingleStep suite compiling
    /// `rol sp, 0FFh` alone): it once had no flag locals, the table giving such shifts no flags, and failed to compile.
    /// </summary>
    [Fact]
    public void A_block_whose_only_flag_writers_are_shifts_by_a_constant_leaves_the_same_state_on_both_tiers()
    {
        // shl eax, 4; rol bx, 0FFh; sar ecx, 13h; hlt
        byte[] code = [0xC1, 0xE0, 0x04, 0x66, 0xC1, 0xC3, 0xFF, 0xC1, 0xF9, 0x13, 0xF4];
        uint[] registers = [0x8123_4567, 0x8000_0001, 0x55, 0xA5A5_1234, 0, 0, 0, 0];
        var (interpreted, _) = Run(code, new byte[DataSize], registers, 0x8D5 | 2, 1, DataPage.Unpaged, CpuTier.Interpreter);
        var (translated, statistics) = Run(code, new byte[DataSize], registers, 0x8D5 | 2, 1, DataPage.Unpaged, CpuTier.Translator);

        Assert.Equal(interpreted, translated);
        Assert.True(statistics.InlinedInstructions >= 3, $"{statistics.InlinedInstructions} instructions inlined");
    }

    /// <summary>
    /// Above threshold 1 a block that reaches it is compiled on the background compiler while it goes on interpreted,
    /// and runs compiled once its method is there: the loop ends as on the interpreter, and its block is compiled.
    /// </summary>
    [Fact]
    public void Above_threshold_1_a_hot_block_is_compiled_in_the_background_and_the_loop_ends_as_interpreted()
    {
        var results = new List<ulong>();
        foreach (var tier in new[] { CpuTier.Interpreter, CpuTier.Translator })
        {
            using var p = new ProtectedModeMachine();
            p.M.Cpu.Tier = tier;
            p.M.Cpu.TranslateAfter = 16;
            p.Write(ProtectedModeMachine.Code, a =>
            {
                var loop = a.CreateLabel();
                a.mov(ecx, 300000);
                a.Label(ref loop);
                a.add(ebx, ecx);
                a.rol(ebx, 3);
                a.dec(ecx);
                a.jnz(loop);
                a.hlt();
            });
            p.Start(ProtectedModeMachine.Code);
            p.M.Cpu.SetState(WithRegisters(p.M.Cpu.GetState(), rbx: 0));

            results.Add(p.RunToHalt().Rbx);

            if (tier == CpuTier.Translator)
            {
                Assert.True(p.M.Cpu.WaitForTranslations(TimeSpan.FromSeconds(60)), "the background compiler did not finish");
                Assert.True(p.M.Cpu.Translation.Blocks >= 1, "the loop's block was not compiled");
            }
        }
        Assert.Equal(results[0], results[1]);
    }

    /// <summary>A definition's default tier, auto, is the translator; a CPU whose tier nobody set interprets.</summary>
    [Fact]
    public void Auto_compiles_blocks_and_an_unset_tier_does_not()
    {
        foreach (var tier in new CpuTier?[] { CpuTier.Auto, null })
        {
            using var p = new ProtectedModeMachine();
            if (tier is { } t) p.M.Cpu.Tier = t;
            p.M.Cpu.TranslateAfter = 1;
            p.Write(ProtectedModeMachine.Code, a => { a.add(eax, ecx); a.hlt(); });
            p.Start(ProtectedModeMachine.Code);
            p.RunToHalt();
            Assert.True(tier == null ? p.M.Cpu.Translation.Blocks == 0 : p.M.Cpu.Translation.Blocks > 0, $"{tier}: {p.M.Cpu.Translation.Blocks} blocks compiled");
        }
    }

    [Fact]
    public void The_dump_shows_each_compiled_block_s_guest_instructions_beside_its_IL()
    {
        string path = Path.Combine(Path.GetTempPath(), $"virtshell-blocks-{Guid.NewGuid():N}.txt");
        try
        {
            using (var p = new ProtectedModeMachine())
            {
                p.M.Cpu.Tier = CpuTier.Translator;
                p.M.Cpu.TranslateAfter = 1;
                p.M.Cpu.DumpTranslations(path);
                p.Write(ProtectedModeMachine.Code, a => { a.add(eax, ecx); a.xor(ebx, eax); a.hlt(); });
                p.Start(ProtectedModeMachine.Code);
                p.RunToHalt();
            }
            string dump = File.ReadAllText(path);
            Assert.Contains("block 00010000", dump);
            Assert.Contains("; 00010000 add eax,ecx", dump);
            Assert.Contains("stfld _lazyRes", dump); // the XOR's flags: the HLT handler after it could see them
            Assert.Contains("calli", dump);          // HLT is the interpreter's handler
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static (string State, TranslationStatistics Statistics) Run(byte[] code, byte[] data, uint[] registers, uint flags, uint passes,
        DataPage page, CpuTier tier)
    {
        using var p = new ProtectedModeMachine();
        p.M.Cpu.Tier = tier;
        p.M.Cpu.TranslateAfter = 1;
        uint at = page == DataPage.Unpaged ? Data : PagedData;
        p.M.Memory.Write(ProtectedModeMachine.Code, code);
        p.M.Memory.Write(at, data);
        p.M.Memory.Write(at - 4, BitConverter.GetBytes(passes));
        p.Start(ProtectedModeMachine.Code);
        var s = p.M.Cpu.GetState();
        if (page != DataPage.Unpaged)
        {
            // The first 2 MiB identity-mapped, writable, supervisor; CR0.WP makes a read-only page fault ring-0 stores too.
            p.SetDword(PageDirectory, PageTable | 3);
            for (uint n = 0; n < 512; n++) p.SetDword(PageTable + 4 * n, n << 12 | 3);
            if (page == DataPage.NotPresent) p.SetDword(PageTable + 4 * 0x40, 0x40000);
            if (page == DataPage.ReadOnly) p.SetDword(PageTable + 4 * 0x40, 0x40000 | 1);
            s.Cr3 = PageDirectory;
            s.Cr0 = 0x8001_0011;
        }
        s.Rax = registers[0]; s.Rcx = registers[1]; s.Rdx = registers[2]; s.Rbx = registers[3];
        s.Rbp = registers[5]; s.Rdi = registers[7]; s.Rsi = at;
        s.Rflags = flags;
        p.M.Cpu.SetState(s);
        var exit = p.M.Cpu.Run();
        var end = p.M.Cpu.GetState();
        string state = $"{exit.Reason} eax={end.Rax:x} ecx={end.Rcx:x} edx={end.Rdx:x} ebx={end.Rbx:x} esp={end.Rsp:x} ebp={end.Rbp:x} " +
                       $"esi={end.Rsi:x} edi={end.Rdi:x} eip={end.Rip:x} eflags={end.Rflags:x} cr2={end.Cr2:x} retired={p.M.Cpu.InstructionsRetired} " +
                       $"data={Convert.ToHexString(p.M.Memory.Read(at - 4, (int)DataSize + 4))} " +
                       $"stack={Convert.ToHexString(p.M.Memory.Read(ProtectedModeMachine.Stack0 - 0x40, 0x40))}";
        return (state, p.M.Cpu.Translation);
    }

    private static CpuState WithRegisters(CpuState s, ulong rbx)
    {
        s.Rbx = rbx;
        return s;
    }

    /// <summary>
    /// Up to 24 instructions, optionally a conditional jump to the HLT that ends the block either way; or, with
    /// <paramref name="loop"/>, the instructions, split by a JMP to the next one, then a count down of the dword below
    /// the data and a JNE back to the start.
    /// </summary>
    private static byte[] RandomBlock(Random random, bool loop, out string listing)
    {
        var instructions = new List<Instruction>();
        int count = random.Next(1, 25);
        for (int n = 0; n < count; n++)
        {
            var code = Encodings[random.Next(Encodings.Length)];
            var info = code.ToOpCode();
            var operands = Enumerable.Range(0, info.OpCount).Select(k => Operand(info.GetOpKind(k), random)!).ToArray();
            instructions.Add(Create(code, operands));
        }
        ulong ip = ProtectedModeMachine.Code;
        var writer = new CodeWriterImpl();
        var encoder = Encoder.Create(32, writer);
        if (loop) instructions.Add(Instruction.Create(Code.Dec_rm32, new MemoryOperand(Register.ESI, -4)));
        // A loop's body is split in two blocks, so passes chain one to the other; half the other blocks are split too.
        // The split goes to the next instruction by a JMP, a CALL (which pushes a dword each pass), or a PUSH of the
        // next instruction's address and a RET (16 or 32-bit operand, with or without releasing a pushed dword).
        int split = loop || random.Next(2) == 0 ? random.Next(instructions.Count) : -1;
        int splitKind = random.Next(4);
        for (int n = 0; n < instructions.Count; n++)
        {
            if (n == split)
            {
                Instruction[] branch = splitKind switch
                {
                    0 => [Instruction.CreateBranch(Code.Jmp_rel32_32, ip + 5)],
                    1 => [Instruction.CreateBranch(Code.Call_rel32_32, ip + 5)],
                    2 => [Instruction.Create(Code.Pushd_imm32, (int)(ip + 6)), Instruction.Create(Code.Retnd)],
                    _ => [Instruction.Create(Code.Pushd_imm32, 0), Instruction.Create(Code.Pushd_imm32, (int)(ip + 13)),
                          Instruction.Create(Code.Retnd_imm16, 4)],
                };
                foreach (var b in branch)
                {
                    instructions.Insert(n++, b);
                    ip += encoder.Encode(b, ip);
                }
            }
            ip += encoder.Encode(instructions[n], ip);
        }
        if (loop)
        {
            var back = Instruction.CreateBranch(Code.Jne_rel32_32, ProtectedModeMachine.Code);
            instructions.Add(back);
            ip += encoder.Encode(back, ip);
        }
        else if (random.Next(2) == 0)
        {
            var jcc = Instruction.CreateBranch(Code.Jne_rel8_32, ip + 2);
            instructions.Add(jcc);
            ip += encoder.Encode(jcc, ip);
        }
        var hlt = Instruction.Create(Code.Hlt);
        instructions.Add(hlt);
        encoder.Encode(hlt, ip);
        listing = string.Join("\n", instructions);
        return writer.Bytes.ToArray();
    }

    /// <summary>A random operand of one kind, or null for a kind the generator does not make.</summary>
    private static object? Operand(OpCodeOperandKind kind, Random random) => kind switch
    {
        OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_opcode => Gpr32[random.Next(Gpr32.Length)],
        OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_opcode => Gpr16[random.Next(Gpr16.Length)],
        OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode => Gpr8[random.Next(Gpr8.Length)],
        OpCodeOperandKind.mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r8_or_mem =>
            random.Next(3) == 0 && kind != OpCodeOperandKind.mem
                ? RegistersFor(kind)[random.Next(6)]
                : new MemoryOperand(Register.ESI, random.Next(0, (int)DataSize - 8)),
        OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 => random.Next(-128, 128),
        OpCodeOperandKind.imm16 => random.Next(-32768, 32768),
        OpCodeOperandKind.imm32 or OpCodeOperandKind.imm32sex64 => random.Next() ^ random.Next() << 8,
        OpCodeOperandKind.al or OpCodeOperandKind.ax or OpCodeOperandKind.eax => kind switch
        {
            OpCodeOperandKind.al => Register.AL, OpCodeOperandKind.ax => Register.AX, _ => Register.EAX,
        },
        OpCodeOperandKind.cl => Register.CL,
        OpCodeOperandKind.imm8_const_1 => 1,
        _ => null,
    };

    private static Register[] RegistersFor(OpCodeOperandKind kind) =>
        kind == OpCodeOperandKind.r32_or_mem ? Gpr32 : kind == OpCodeOperandKind.r16_or_mem ? Gpr16 : Gpr8;

    private static Instruction Create(Code code, object[] operands) => operands switch
    {
        [] => Instruction.Create(code),
        [Register r] => Instruction.Create(code, r),
        [MemoryOperand m] => Instruction.Create(code, m),
        [int i] => Instruction.Create(code, i),
        [Register a, Register b] => Instruction.Create(code, a, b),
        [Register a, MemoryOperand b] => Instruction.Create(code, a, b),
        [MemoryOperand a, Register b] => Instruction.Create(code, a, b),
        [Register a, int b] => Instruction.Create(code, a, b),
        [MemoryOperand a, int b] => Instruction.Create(code, a, b),
        [Register a, Register b, int c] => Instruction.Create(code, a, b, c),
        [Register a, MemoryOperand b, int c] => Instruction.Create(code, a, b, c),
        [MemoryOperand a, Register b, int c] => Instruction.Create(code, a, b, c),
        [Register a, Register b, Register c] => Instruction.Create(code, a, b, c),
        [MemoryOperand a, Register b, Register c] => Instruction.Create(code, a, b, c),
        _ => throw new InvalidOperationException($"no Instruction.Create for {code} with {operands.Length} operands"),
    };

    private sealed class CodeWriterImpl : CodeWriter
    {
        public List<byte> Bytes { get; } = [];
        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
