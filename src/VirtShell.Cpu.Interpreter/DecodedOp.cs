using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

/// <summary>
/// One decoded instruction with everything its handler needs precomputed: the handler itself, the operand size,
/// the memory operand's segment/base/index/scale/displacement and the immediate or branch target.
/// </summary>
/// <summary>Where operand 0 or 1 lives, resolved at decode time so handlers need not ask Iced again.</summary>
/// <remarks>
/// In 64-bit mode a memory operand is <see cref="Other"/>: the 16/32-bit fast paths leave it to the slow path, which
/// computes the 64-bit address (LongMode.cs). Gpr64 and Immediate64 (MOV r64, imm64) only occur there.
/// </remarks>
internal enum OperandLoc : byte { Other, Gpr8Lo, Gpr8Hi, Gpr16, Gpr32, Memory, Immediate, Gpr64, Immediate64 }

internal unsafe struct DecodedOp
{
    public Instruction I;
    public delegate*<InterpreterCpu, ref DecodedOp, void> Handler;
    public ulong NextIp;
    /// <summary>The immediate, or the near branch target, or the far branch offset.</summary>
    public uint Imm;
    /// <summary>The second immediate (ENTER nesting level) or the far branch selector.</summary>
    public uint Imm2;
    /// <summary>The displacement; in 64-bit mode sign-extended to 64 bits, the absolute address for RIP-relative operands, the imm64 of MOV r64, imm64, or the 64-bit target of a near branch.</summary>
    public ulong Disp;
    /// <summary>0xFFFF or 0xFFFFFFFF: the address size of the memory operand.</summary>
    public uint AddrMask;
    /// <summary>Operand size in bytes (1, 2 or 4).</summary>
    public byte OpSize;
    /// <summary>Size of the memory operand in bytes (differs from OpSize for MOVZX, LDS, ...).</summary>
    public byte MemSize;
    public byte Seg;
    public byte Base;
    public byte Index;
    public byte Scale;
    public ConditionCode Cond;
    public OperandLoc Loc0, Loc1;
    /// <summary>GPR numbers of operands 0 and 1 when they are general registers.</summary>
    public byte Reg0, Reg1;
    /// <summary>64-bit mode with an address-size prefix: the effective address is truncated to 32 bits.</summary>
    public bool Addr32;
}

/// <summary>A run of straight-line instructions decoded from one physical address with one CS:EIP.</summary>
internal sealed class Block(uint phys, ulong eip, byte mode, DecodedOp[] ops, uint physEnd)
{
    public readonly uint Phys = phys;
    public readonly ulong Eip = eip;
    /// <summary>The decoder mode (Code16, Code32, Code64) the block was decoded in.</summary>
    public readonly byte Mode = mode;
    public readonly DecodedOp[] Ops = ops;
    /// <summary>One past the last physical byte decoded (the last instruction may run into the next page).</summary>
    public readonly uint PhysEnd = physEnd;
    public bool Valid = true;
    /// <summary>The last two blocks that ran after this one (fall-through and branch target), checked before any lookup.</summary>
    public Block? Next0, Next1;
    /// <summary>How often the block ran before the translator compiled it (Translator.cs).</summary>
    public int Runs;
    /// <summary>The block compiled to IL, once it has run often enough with the translating tier on.</summary>
    public CompiledBlock? Compiled;
}
