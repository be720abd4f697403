using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// EFLAGS lives in _flagBits, except that the six arithmetic flags of ADD ADC SUB SBB CMP NEG INC DEC AND OR XOR
// TEST (every operand width, 64-bit included) are lazy: those ops only record their operands and result, and the
// flags are computed when something reads them (Eflags getter, Condition). Most results are overwritten before any
// read, which saves the work. Materialize and CarryNow hold the one copy of the add/subtract flag formula.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] FlagOps() =>
    [
        Op(Mnemonic.Clc, &Clc, CpuModes.LegacyAndLong), Op(Mnemonic.Stc, &Stc, CpuModes.LegacyAndLong),
        Op(Mnemonic.Cmc, &Cmc, CpuModes.LegacyAndLong), Op(Mnemonic.Cld, &Cld, CpuModes.LegacyAndLong),
        Op(Mnemonic.Std, &Std, CpuModes.LegacyAndLong), Op(Mnemonic.Cli, &Cli, CpuModes.LegacyAndLong),
        Op(Mnemonic.Sti, &Sti, CpuModes.LegacyAndLong), Op(Mnemonic.Lahf, &Lahf, CpuModes.LegacyAndLong),
        Op(Mnemonic.Sahf, &Sahf, CpuModes.LegacyAndLong), Op(Mnemonic.Salc, &Salc), Op(Mnemonic.Pushf, &Pushf),
        Op(Mnemonic.Pushfd, &Pushf), Op(Mnemonic.Popf, &Popf), Op(Mnemonic.Popfd, &Popf),
    ];

    private const uint ArithFlags = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagOf;
    /// <summary>The bits software can change: the 8086 set plus IOPL/NT, AC and ID (a CPUID-capable 486 or later).</summary>
    private const uint WritableFlags = 0x7FD5 | FlagAc | FlagId;

    /// <summary>The operation whose flags are pending: Adc and Sbb are Add and Sub with a carry (borrow) in.</summary>
    private enum LazyOp : byte { None, Add, Adc, Sub, Sbb, Logic, Inc, Dec }

    private uint _flagBits = 2;
    private LazyOp _lazyOp;
    /// <summary>The operand size in bytes (1, 2, 4, 8); operands and result are masked to it.</summary>
    private byte _lazySize;
    private ulong _lazyRes, _lazyA, _lazyB;

    /// <summary>EFLAGS with any pending lazy arithmetic flags computed. IF, DF, TF and the rest are never lazy.</summary>
    private uint Eflags
    {
        get
        {
            if (_lazyOp != LazyOp.None) Materialize();
            return _flagBits;
        }
        set
        {
            _lazyOp = LazyOp.None;
            _flagBits = value;
        }
    }

    /// <summary>EFLAGS as POPF and IRET within a mode write it: VM is kept (only mode switches change it).</summary>
    private uint Flags
    {
        get => Eflags;
        set => Eflags = (value & WritableFlags) | (_flagBits & FlagVm) | 2;
    }

    private int Iopl => (int)(_flagBits >> 12) & 3;

    /// <summary>EFLAGS.VM: virtual-8086 mode (never lazy, so read straight from the flag bits).</summary>
    private bool V86 => (_flagBits & FlagVm) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetLazy(LazyOp op, ulong res, ulong a, ulong b, int size)
    {
        _lazyOp = op;
        _lazyRes = res;
        _lazyA = a;
        _lazyB = b;
        _lazySize = (byte)size;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Materialize()
    {
        _flagBits = FlagsOf(_lazyOp, _lazyRes, _lazyA, _lazyB, _lazySize, _flagBits);
        _lazyOp = LazyOp.None;
    }

    /// <summary>EFLAGS with the pending operation given as values computed (the translator keeps them in locals).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint FlagsOf(LazyOp op, ulong res, ulong a, ulong b, int size, uint flagBits)
    {
        if (op == LazyOp.None) return flagBits;
        int sign = SignShift(size);
        uint f = Szp(res, size) | CarryOf(op, res, a, b, flagBits);
        switch (op)
        {
            case LazyOp.Add or LazyOp.Adc or LazyOp.Inc:
                f |= ((uint)(a ^ b ^ res) & FlagAf) | (uint)((((a ^ res) & (b ^ res)) >> sign) & 1) << 11;
                break;
            case LazyOp.Sub or LazyOp.Sbb or LazyOp.Dec:
                f |= ((uint)(a ^ b ^ res) & FlagAf) | (uint)((((a ^ b) & (a ^ res)) >> sign) & 1) << 11;
                break;
        }
        return (flagBits & ~ArithFlags) | f;
    }

    /// <summary>CF alone, without computing the other lazy flags (INC/DEC keep it). With a carry in, a result equal to the first operand carried.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint CarryNow() => CarryOf(_lazyOp, _lazyRes, _lazyA, _lazyB, _flagBits);

    /// <summary>CF of a pending operation given as values (the translator keeps the lazy flags in locals).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint CarryOf(LazyOp op, ulong res, ulong a, ulong b, uint flagBits) => op switch
    {
        LazyOp.Add => res < a ? FlagCf : 0,
        LazyOp.Adc => res <= a ? FlagCf : 0,
        LazyOp.Sub => a < b ? FlagCf : 0,
        LazyOp.Sbb => a <= b ? FlagCf : 0,
        LazyOp.Logic => 0,
        _ => flagBits & FlagCf,
    };

    /// <summary>Add with carry in at any operand size; the flags are left pending.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong AluAdd(ulong a, ulong b, uint carry, int size)
    {
        b &= WidthMask(size);
        ulong res = (a + b + carry) & WidthMask(size);
        SetLazy(carry != 0 ? LazyOp.Adc : LazyOp.Add, res, a, b, size);
        return res;
    }

    /// <summary>Subtract with borrow in at any operand size (CMP, NEG, SBB...); the flags are left pending.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong AluSub(ulong a, ulong b, uint borrow, int size)
    {
        b &= WidthMask(size);
        ulong res = (a - b - borrow) & WidthMask(size);
        SetLazy(borrow != 0 ? LazyOp.Sbb : LazyOp.Sub, res, a, b, size);
        return res;
    }

    /// <summary>INC or DEC at any operand size: CF keeps its value, the other five flags are left pending.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong IncDec(ulong a, bool dec, int size)
    {
        ulong res = (dec ? a - 1 : a + 1) & WidthMask(size);
        _flagBits = (_flagBits & ~FlagCf) | CarryNow();
        SetLazy(dec ? LazyOp.Dec : LazyOp.Inc, res, a, 1, size);
        return res;
    }

    /// <summary>AND/OR/XOR/TEST at any operand size: CF = OF = AF = 0, the rest pending.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Logic(ulong res, int size)
    {
        res &= WidthMask(size);
        SetLazy(LazyOp.Logic, res, 0, 0, size);
        return res;
    }

    private static readonly byte[] ParityTable = BuildParity();

    private static byte[] BuildParity()
    {
        var t = new byte[256];
        for (int i = 0; i < 256; i++) t[i] = (byte)((System.Numerics.BitOperations.PopCount((uint)i) & 1) == 0 ? FlagPf : 0);
        return t;
    }

    private static uint SizeMask(int size) => size == 4 ? 0xFFFF_FFFFu : (1u << (size * 8)) - 1;
    private static ulong WidthMask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
    private static int SignShift(int size) => size * 8 - 1;

    /// <summary>SF, ZF and PF of <paramref name="res"/> (already masked to the operand size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Szp(ulong res, int size) =>
        ParityTable[res & 0xFF] | (res == 0 ? FlagZf : 0) | (uint)(((res >> SignShift(size)) & 1) << 7);

    /// <summary>Sets all six arithmetic flags at once (so nothing pending needs computing first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetArith(uint flags)
    {
        _flagBits = (_flagBits & ~ArithFlags) | flags;
        _lazyOp = LazyOp.None;
    }

    private bool Cf => (Eflags & FlagCf) != 0;

    /// <summary>Evaluates an Iced condition code (the low nibble of Jcc/SETcc/CMOVcc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Condition(Iced.Intel.ConditionCode cc)
    {
        // JZ/JNZ after a lazy op (the loop-closing case) need only the result.
        if (_lazyOp != LazyOp.None && cc is Iced.Intel.ConditionCode.e or Iced.Intel.ConditionCode.ne)
            return (_lazyRes == 0) == (cc == Iced.Intel.ConditionCode.e);
        uint f = Eflags;
        return cc switch
        {
            Iced.Intel.ConditionCode.o => (f & FlagOf) != 0,
            Iced.Intel.ConditionCode.no => (f & FlagOf) == 0,
            Iced.Intel.ConditionCode.b => (f & FlagCf) != 0,
            Iced.Intel.ConditionCode.ae => (f & FlagCf) == 0,
            Iced.Intel.ConditionCode.e => (f & FlagZf) != 0,
            Iced.Intel.ConditionCode.ne => (f & FlagZf) == 0,
            Iced.Intel.ConditionCode.be => (f & (FlagCf | FlagZf)) != 0,
            Iced.Intel.ConditionCode.a => (f & (FlagCf | FlagZf)) == 0,
            Iced.Intel.ConditionCode.s => (f & FlagSf) != 0,
            Iced.Intel.ConditionCode.ns => (f & FlagSf) == 0,
            Iced.Intel.ConditionCode.p => (f & FlagPf) != 0,
            Iced.Intel.ConditionCode.np => (f & FlagPf) == 0,
            Iced.Intel.ConditionCode.l => ((f >> 7) & 1) != ((f >> 11) & 1),
            Iced.Intel.ConditionCode.ge => ((f >> 7) & 1) == ((f >> 11) & 1),
            Iced.Intel.ConditionCode.le => (f & FlagZf) != 0 || ((f >> 7) & 1) != ((f >> 11) & 1),
            Iced.Intel.ConditionCode.g => (f & FlagZf) == 0 && ((f >> 7) & 1) == ((f >> 11) & 1),
            _ => true,
        };
    }

    // Flag instructions: CLC STC CMC CLD STD CLI STI LAHF SAHF PUSHF POPF SALC.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Clc(InterpreterCpu c, ref DecodedOp d) => c.Eflags &= ~FlagCf;
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Stc(InterpreterCpu c, ref DecodedOp d) => c.Eflags |= FlagCf;
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cmc(InterpreterCpu c, ref DecodedOp d) => c.Eflags ^= FlagCf;
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cld(InterpreterCpu c, ref DecodedOp d) => c.Eflags &= ~FlagDf;
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Std(InterpreterCpu c, ref DecodedOp d) => c.Eflags |= FlagDf;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cli(InterpreterCpu c, ref DecodedOp d)
    {
        c.CheckIopl();
        c.Eflags &= ~FlagIf;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Sti(InterpreterCpu c, ref DecodedOp d)
    {
        c.CheckIopl();
        if ((c.Eflags & FlagIf) == 0)
        {
            c.Eflags |= FlagIf;
            c._interruptShadow = true;
            c._breakBlock = true;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Lahf(InterpreterCpu c, ref DecodedOp d) =>
        c._gpr[RegEax] = (c._gpr[RegEax] & ~0xFF00UL) | ((c.Eflags & 0xD7 | 2) << 8);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Sahf(InterpreterCpu c, ref DecodedOp d) =>
        c.Eflags = (c.Eflags & ~0xD5u) | (((uint)c._gpr[RegEax] >> 8) & 0xD5);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Salc(InterpreterCpu c, ref DecodedOp d) =>
        c._gpr[RegEax] = (c._gpr[RegEax] & ~0xFFUL) | (c.Cf ? 0xFFu : 0);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pushf(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.V86 && c.Iopl < 3) throw new CpuFault(Vector.GeneralProtection, 0);
        if (d.OpSize == 4) c.Push32(c.Eflags & 0x00FC_FFFF);
        else c.Push16(c.Eflags & 0xFFFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Popf(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.V86 && c.Iopl < 3) throw new CpuFault(Vector.GeneralProtection, 0);
        uint v = d.OpSize == 4 ? c.Pop32() : c.Pop16() | (c.Eflags & 0xFFFF_0000);
        c.WriteFlagsChecked(v, d.OpSize == 4 ? 0xFFFF_FFFFu : 0xFFFF);
        c._breakBlock = true;
    }

    /// <summary>POPF/IRET semantics: IOPL only changes at CPL 0, IF only when CPL &lt;= IOPL.</summary>
    private void WriteFlagsChecked(uint value, uint width)
    {
        uint keep = ~width;
        if (ProtectedMode && Cpl != 0) keep |= FlagIopl;
        if (ProtectedMode && Cpl > ((Eflags >> 12) & 3)) keep |= FlagIf;
        Flags = (Eflags & keep) | (value & ~keep);
    }

    private void CheckIopl()
    {
        if (ProtectedMode && Cpl > ((Eflags >> 12) & 3)) throw new CpuFault(Vector.GeneralProtection, 0);
    }
}
