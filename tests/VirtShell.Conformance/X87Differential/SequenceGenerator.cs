using System.Buffers.Binary;
using Iced.Intel;

namespace VirtShell.Conformance.X87Differential;

/// <summary>
/// One generated case: the machine state a sequence starts from and the instructions, written so that the same
/// <see cref="Instruction"/>s encode for 32-bit protected mode (the interpreter) and 64-bit user mode (the host):
/// registers are the eight legacy 32-bit ones and memory is [EDI+disp] into a 256-byte buffer.
/// </summary>
internal sealed class FuzzCase
{
    public const int DataSize = 256;
    /// <summary>EAX ECX EDX EBX EBP ESI, the registers a sequence may change (EDI holds the data address, ESP is unused).</summary>
    public static readonly Register[] Gprs = [Register.EAX, Register.ECX, Register.EDX, Register.EBX, Register.EBP, Register.ESI];

    public required int Index { get; init; }
    public required uint[] Gpr { get; init; }
    /// <summary>The six arithmetic flags the sequence starts with.</summary>
    public required uint Flags { get; init; }
    /// <summary>The x87 part of an FXSAVE image (control, status, abridged tag, ST0-ST7); MXCSR is 1F80.</summary>
    public required byte[] Fxsave { get; init; }
    public required byte[] Data { get; init; }
    /// <summary>The sequence in units: an instruction with the guard instructions generated for it, kept or dropped together.</summary>
    public required List<Instruction[]> Units { get; init; }

    public IEnumerable<Instruction> Code => Units.SelectMany(u => u);

    /// <summary>Arithmetic flags the sequence leaves undefined (per the SDM), not compared.</summary>
    public uint UndefinedFlags => SequenceGenerator.UndefinedAfter(Units) ?? SequenceGenerator.Arithmetic;

    public FuzzCase WithUnits(List<Instruction[]> units) => new()
    {
        Index = Index, Gpr = Gpr, Flags = Flags, Fxsave = Fxsave, Data = Data, Units = units,
    };
}

/// <summary>
/// Random x87 and integer instruction sequences. Instruction forms come from Iced's opcode tables (every encoding of
/// the mnemonics below valid in both 32- and 64-bit mode whose operands are registers, [EDI+disp] memory and
/// immediates); operands are random. Values that would fault or leave a result undefined are steered away by guard
/// instructions that become part of the sequence (dividends and divisors that cannot overflow, non-zero bit-scan
/// sources, exception masks kept set by FLDCW), so both sides run exactly the same code. Flags an instruction leaves
/// undefined are tracked: they are not compared, and no later instruction that reads them is generated.
/// </summary>
internal sealed class SequenceGenerator
{
    public const uint Cf = 1, Pf = 4, Af = 0x10, Zf = 0x40, Sf = 0x80, Of = 0x800, Arithmetic = Cf | Pf | Af | Zf | Sf | Of;

    private static readonly Mnemonic[] IntegerMnemonics =
    [
        Mnemonic.Add, Mnemonic.Adc, Mnemonic.Sub, Mnemonic.Sbb, Mnemonic.Cmp, Mnemonic.And, Mnemonic.Or, Mnemonic.Xor,
        Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not, Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div,
        Mnemonic.Idiv, Mnemonic.Shl, Mnemonic.Sal, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl,
        Mnemonic.Rcr, Mnemonic.Shld, Mnemonic.Shrd, Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc, Mnemonic.Bsf,
        Mnemonic.Bsr, Mnemonic.Bswap, Mnemonic.Xchg, Mnemonic.Xadd, Mnemonic.Cmpxchg, Mnemonic.Cmpxchg8b, Mnemonic.Mov,
        Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Lea, Mnemonic.Cbw, Mnemonic.Cwde, Mnemonic.Cwd, Mnemonic.Cdq,
        Mnemonic.Clc, Mnemonic.Stc, Mnemonic.Cmc, Mnemonic.Lahf, Mnemonic.Sahf,
        Mnemonic.Seto, Mnemonic.Setno, Mnemonic.Setb, Mnemonic.Setae, Mnemonic.Sete, Mnemonic.Setne, Mnemonic.Setbe,
        Mnemonic.Seta, Mnemonic.Sets, Mnemonic.Setns, Mnemonic.Setp, Mnemonic.Setnp, Mnemonic.Setl, Mnemonic.Setge,
        Mnemonic.Setle, Mnemonic.Setg,
        Mnemonic.Cmovo, Mnemonic.Cmovno, Mnemonic.Cmovb, Mnemonic.Cmovae, Mnemonic.Cmove, Mnemonic.Cmovne,
        Mnemonic.Cmovbe, Mnemonic.Cmova, Mnemonic.Cmovs, Mnemonic.Cmovns, Mnemonic.Cmovp, Mnemonic.Cmovnp,
        Mnemonic.Cmovl, Mnemonic.Cmovge, Mnemonic.Cmovle, Mnemonic.Cmovg,
    ];

    private static readonly Mnemonic[] X87Mnemonics =
    [
        Mnemonic.Fld, Mnemonic.Fst, Mnemonic.Fstp, Mnemonic.Fild, Mnemonic.Fist, Mnemonic.Fistp, Mnemonic.Fisttp,
        Mnemonic.Fld1, Mnemonic.Fldz, Mnemonic.Fldpi, Mnemonic.Fldl2e, Mnemonic.Fldl2t, Mnemonic.Fldlg2, Mnemonic.Fldln2,
        Mnemonic.Fadd, Mnemonic.Faddp, Mnemonic.Fiadd, Mnemonic.Fsub, Mnemonic.Fsubp, Mnemonic.Fisub, Mnemonic.Fsubr,
        Mnemonic.Fsubrp, Mnemonic.Fisubr, Mnemonic.Fmul, Mnemonic.Fmulp, Mnemonic.Fimul, Mnemonic.Fdiv, Mnemonic.Fdivp,
        Mnemonic.Fidiv, Mnemonic.Fdivr, Mnemonic.Fdivrp, Mnemonic.Fidivr, Mnemonic.Fchs, Mnemonic.Fabs, Mnemonic.Fsqrt,
        Mnemonic.Frndint, Mnemonic.Fscale, Mnemonic.Fxtract, Mnemonic.Fprem, Mnemonic.Fprem1,
        Mnemonic.Fcom, Mnemonic.Fcomp, Mnemonic.Fcompp, Mnemonic.Fucom, Mnemonic.Fucomp, Mnemonic.Fucompp,
        Mnemonic.Ficom, Mnemonic.Ficomp, Mnemonic.Fcomi, Mnemonic.Fcomip, Mnemonic.Fucomi, Mnemonic.Fucomip,
        Mnemonic.Ftst, Mnemonic.Fxam, Mnemonic.Fxch, Mnemonic.Ffree, Mnemonic.Ffreep, Mnemonic.Fincstp, Mnemonic.Fdecstp,
        Mnemonic.Fnstsw, Mnemonic.Fnstcw, Mnemonic.Fldcw, Mnemonic.Fnclex, Mnemonic.Fnop,
        Mnemonic.Fnstenv, Mnemonic.Fldenv, Mnemonic.Fnsave, Mnemonic.Frstor,
        Mnemonic.Fcmovb, Mnemonic.Fcmove, Mnemonic.Fcmovbe, Mnemonic.Fcmovu, Mnemonic.Fcmovnb, Mnemonic.Fcmovne,
        Mnemonic.Fcmovnbe, Mnemonic.Fcmovnu,
    ];

    private static readonly Register[] Gpr16 = [Register.AX, Register.CX, Register.DX, Register.BX, Register.BP, Register.SI];
    private static readonly Register[] Gpr8 = [Register.AL, Register.CL, Register.DL, Register.BL, Register.AH, Register.CH, Register.DH, Register.BH];

    /// <summary>The instruction forms drawn from, x87 and integer in separate lists so each kind gets its share.</summary>
    public static readonly Code[] X87Forms = Forms(X87Mnemonics), IntegerForms = Forms(IntegerMnemonics);

    /// <summary>
    /// For interpreter-only runs (<see cref="SequenceGenerator(int, bool)"/>): the transcendentals, which compute in
    /// double and so cannot be compared bit for bit.
    /// </summary>
    private static readonly Code[] UncomparedForms = Forms(
    [
        Mnemonic.Fsin, Mnemonic.Fcos, Mnemonic.Fsincos, Mnemonic.Fptan, Mnemonic.Fpatan, Mnemonic.F2xm1, Mnemonic.Fyl2x,
        Mnemonic.Fyl2xp1,
    ]);

    private readonly Random _random;
    private readonly bool _unchecked;

    /// <summary>
    /// <paramref name="interpreterOnly"/>: sequences that only the interpreter runs, to check that it never ends with
    /// an internal error — the transcendentals added and exceptions unmasked at random, so faults happen.
    /// </summary>
    public SequenceGenerator(int seed, bool interpreterOnly = false)
    {
        _random = new Random(seed);
        _unchecked = interpreterOnly;
    }

    private static Code[] Forms(Mnemonic[] mnemonics)
    {
        var wanted = mnemonics.ToHashSet();
        return Enum.GetValues<Code>().Where(code =>
        {
            if (!wanted.Contains(code.Mnemonic())) return false;
            var op = code.ToOpCode();
            if (op.Encoding != EncodingKind.Legacy || !op.Mode32 || !op.Mode64) return false;
            // BSWAP r16 is undefined; XCHG EAX,EAX in 64-bit mode is NOP (no zero-extension): harmless but not the same form.
            if (code is Code.Bswap_r16) return false;
            for (int i = 0; i < op.OpCount; i++)
                if (!Supported(op.GetOpKind(i))) return false;
            return true;
        }).ToArray();
    }

    private static bool Supported(OpCodeOperandKind k) => k is
        OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode or OpCodeOperandKind.r8_or_mem or
        OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r16_rm or
        OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_rm or
        OpCodeOperandKind.mem or OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8_const_1 or OpCodeOperandKind.imm8sex16 or
        OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm16 or OpCodeOperandKind.imm32 or
        OpCodeOperandKind.al or OpCodeOperandKind.cl or OpCodeOperandKind.ax or OpCodeOperandKind.eax or
        OpCodeOperandKind.st0 or OpCodeOperandKind.sti_opcode;

    public FuzzCase Next(int index)
    {
        var units = new List<Instruction[]>();
        int length = 1 + _random.Next(20);
        uint undefined = 0;
        while (units.Count < length)
        {
            var forms = _random.Next(3) == 0 ? IntegerForms : _unchecked && _random.Next(4) == 0 ? UncomparedForms : X87Forms;
            if (Unit(forms[_random.Next(forms.Length)]) is not { } unit || UndefinedAfter(unit, undefined) is not { } after) continue;
            units.Add(unit);
            undefined = after;
        }
        var gpr = new uint[FuzzCase.Gprs.Length];
        for (int i = 0; i < gpr.Length; i++) gpr[i] = RandomInteger();
        return new FuzzCase
        {
            Index = index,
            Gpr = gpr,
            Flags = (uint)_random.Next(0x1000) & Arithmetic,
            Fxsave = RandomFpuImage(),
            Data = RandomData(),
            Units = units,
        };
    }

    /// <summary>
    /// The undefined flags after <paramref name="units"/> run from a state with <paramref name="undefined"/> undefined,
    /// or null when one of them reads a flag that is undefined by then.
    /// </summary>
    public static uint? UndefinedAfter(IEnumerable<Instruction[]> units, uint undefined = 0)
    {
        foreach (var unit in units)
            if (UndefinedAfter(unit, undefined) is { } after) undefined = after;
            else return null;
        return undefined;
    }

    private static uint? UndefinedAfter(Instruction[] unit, uint undefined)
    {
        foreach (var i in unit)
        {
            if ((Iced(i.RflagsRead) & undefined) != 0) return null;
            undefined = FlagsAfter(i, undefined);
        }
        return undefined;
    }

    /// <summary>An instruction of <paramref name="form"/> with random operands, after the guards it needs; null when the draw is unusable.</summary>
    private Instruction[]? Unit(Code form)
    {
        var code = new List<Instruction>();
        var op = form.ToOpCode();
        var mnemonic = form.Mnemonic();
        var operands = new object[op.OpCount];
        for (int i = 0; i < op.OpCount; i++) operands[i] = Operand(form, op.GetOpKind(i), i);
        if (mnemonic is Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc && operands[0] is MemoryOperand && operands[1] is Register)
            return null; // a register bit offset addresses a bit string anywhere in memory
        if (mnemonic is Mnemonic.Div or Mnemonic.Idiv && !GuardDivision(code, form, operands[0])) return null;
        if (mnemonic is Mnemonic.Bsf or Mnemonic.Bsr)
            code.Add(WithOperands(OrForm(operands[1], Width(form)), operands[1], 1L << _random.Next(Width(form))));
        if (mnemonic is Mnemonic.Shld or Mnemonic.Shrd && Width(form) == 16)
        {
            if (operands[2] is Register) code.Add(Instruction.Create(Code.And_rm8_imm8, Register.CL, 15));
            else operands[2] = (long)_random.Next(17);
        }
        if (mnemonic is Mnemonic.Fldenv or Mnemonic.Frstor && operands[0] is MemoryOperand image)
        {
            // The loaded control word keeps every exception masked (precision double or extended); ES and B are
            // cleared in the loaded status word, which would otherwise make the next waiting instruction fault.
            bool wide = form is Code.Fldenv_m28byte or Code.Frstor_m108byte;
            code.Add(WithOperands(Code.Or_rm16_imm16, image, 0x023FL));
            code.Add(WithOperands(Code.And_rm16_imm16, new MemoryOperand(Register.EDI, image.Displacement + (wide ? 4 : 2)), 0x7F7FL));
        }
        if (mnemonic is Mnemonic.Fldcw)
        {
            // Exceptions stay masked; precision double or extended, or single or double (never the reserved 01).
            code.Add(WithOperands(Code.Or_rm16_imm16, operands[0], _random.Next(2) == 0 ? 0x023FL : 0x003FL));
            if (code[^1].Immediate16 == 0x003F) code.Add(WithOperands(Code.And_rm16_imm16, operands[0], 0xFEFFL));
        }
        try
        {
            code.Add(WithOperands(form, operands));
        }
        catch (ArgumentException)
        {
            return null;
        }
        if (mnemonic is Mnemonic.Fnstenv or Mnemonic.Fnsave && operands[0] is MemoryOperand stored)
        {
            // The instruction and data pointers and the opcode hold addresses that differ between the two runs: they
            // are overwritten before anything can read them.
            bool wide = form is Code.Fnstenv_m28byte or Code.Fnsave_m108byte;
            for (int k = 0; k < 4; k++)
            {
                var at = new MemoryOperand(Register.EDI, stored.Displacement + (wide ? 12 + 4 * k : 6 + 2 * k));
                code.Add(wide ? Instruction.Create(Code.Mov_rm32_imm32, at, 0) : Instruction.Create(Code.Mov_rm16_imm16, at, 0));
            }
        }
        return code.ToArray();
    }

    private static int Width(Code form)
    {
        var op = form.ToOpCode();
        for (int i = 0; i < op.OpCount; i++)
        {
            switch (op.GetOpKind(i))
            {
                case OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode or OpCodeOperandKind.al: return 8;
                case OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r16_rm or OpCodeOperandKind.ax: return 16;
                case OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r32_rm or OpCodeOperandKind.eax: return 32;
            }
        }
        return 32;
    }

    private static Code OrForm(object operand, int width) => width switch { 8 => Code.Or_rm8_imm8, 16 => Code.Or_rm16_imm16, _ => Code.Or_rm32_imm32 };
    private static Code AndForm(int width) => width switch { 8 => Code.And_rm8_imm8, 16 => Code.And_rm16_imm16, _ => Code.And_rm32_imm32 };

    /// <summary>
    /// Makes DIV/IDIV unable to fault: the divisor (not part of the dividend) is made positive and odd, and the high
    /// half of the dividend is the zero- or sign-extension of the low half, so the quotient always fits.
    /// </summary>
    private bool GuardDivision(List<Instruction> code, Code form, object divisor)
    {
        int width = Width(form);
        bool signed = form.Mnemonic() == Mnemonic.Idiv;
        if (divisor is Register r && (width == 8 ? r is Register.AL or Register.AH : width == 16 ? r is Register.AX or Register.DX : r is Register.EAX or Register.EDX))
            return false;
        if (signed) code.Add(WithOperands(AndForm(width), divisor, width switch { 8 => 0x7FL, 16 => 0x7FFFL, _ => 0x7FFF_FFFFL }));
        code.Add(WithOperands(OrForm(divisor, width), divisor, 1L));
        code.Add(width switch
        {
            8 when signed => Instruction.Create(Code.Cbw),
            8 => Instruction.Create(Code.Movzx_r16_rm8, Register.AX, Register.AL),
            16 when signed => Instruction.Create(Code.Cwd),
            16 => Instruction.Create(Code.Xor_r16_rm16, Register.DX, Register.DX),
            _ when signed => Instruction.Create(Code.Cdq),
            _ => Instruction.Create(Code.Xor_r32_rm32, Register.EDX, Register.EDX),
        });
        return true;
    }

    private object Operand(Code form, OpCodeOperandKind kind, int index)
    {
        bool memory = _random.Next(3) == 0;
        switch (kind)
        {
            case OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode: return Gpr8[_random.Next(Gpr8.Length)];
            case OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r16_rm: return Gpr16[_random.Next(Gpr16.Length)];
            case OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r32_rm: return FuzzCase.Gprs[_random.Next(FuzzCase.Gprs.Length)];
            case OpCodeOperandKind.r8_or_mem: return memory ? Memory(form) : Gpr8[_random.Next(Gpr8.Length)];
            case OpCodeOperandKind.r16_or_mem: return memory ? Memory(form) : Gpr16[_random.Next(Gpr16.Length)];
            case OpCodeOperandKind.r32_or_mem: return memory ? Memory(form) : FuzzCase.Gprs[_random.Next(FuzzCase.Gprs.Length)];
            case OpCodeOperandKind.mem: return form.Mnemonic() == Mnemonic.Lea ? Address() : Memory(form);
            case OpCodeOperandKind.imm8_const_1: return 1L;
            case OpCodeOperandKind.imm8: return (long)(_random.Next(4) == 0 ? _random.Next(256) : _random.Next(34));
            case OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32: return (long)(sbyte)_random.Next(256);
            case OpCodeOperandKind.imm16: return (long)(ushort)RandomInteger();
            case OpCodeOperandKind.imm32: return (long)RandomInteger();
            case OpCodeOperandKind.al: return Register.AL;
            case OpCodeOperandKind.cl: return Register.CL;
            case OpCodeOperandKind.ax: return Register.AX;
            case OpCodeOperandKind.eax: return Register.EAX;
            case OpCodeOperandKind.st0: return Register.ST0;
            default: return Register.ST0 + _random.Next(8);
        }
    }

    /// <summary>[EDI+disp], wholly inside the data buffer; x87 operands mostly on the 16-byte slots that hold typed values.</summary>
    private MemoryOperand Memory(Code form)
    {
        var probe = new Instruction { Code = form };
        int size = Math.Max(1, probe.MemorySize.GetSize());
        int disp = _random.Next(4) != 0 && size >= 2 ? 16 * _random.Next(FuzzCase.DataSize / 16) : _random.Next(FuzzCase.DataSize - size + 1);
        if (disp + size > FuzzCase.DataSize) disp = FuzzCase.DataSize - size;
        return new MemoryOperand(Register.EDI, disp);
    }

    /// <summary>An address for LEA: any base, index and scale among the test registers (never EDI, whose value differs).</summary>
    private MemoryOperand Address()
    {
        var regs = FuzzCase.Gprs;
        var baseReg = _random.Next(4) == 0 ? Register.None : regs[_random.Next(regs.Length)];
        var index = _random.Next(2) == 0 ? Register.None : regs[_random.Next(regs.Length)];
        int scale = 1 << _random.Next(4);
        int disp = _random.Next(3) == 0 ? 0 : (int)RandomInteger();
        if (baseReg == Register.None && index == Register.None) baseReg = Register.EAX;
        return new MemoryOperand(baseReg, index, index == Register.None ? 1 : scale, disp, baseReg == Register.None || disp != 0 ? 4 : 0);
    }

    private static Instruction WithOperands(Code form, params object[] operands)
    {
        static Instruction Imm(Code c, object a, long v) => a switch
        {
            Register r when v <= int.MaxValue => Instruction.Create(c, r, (int)v),
            Register r => Instruction.Create(c, r, (uint)v),
            MemoryOperand m when v <= int.MaxValue => Instruction.Create(c, m, (int)v),
            MemoryOperand m => Instruction.Create(c, m, (uint)v),
            _ => throw new ArgumentException("bad operand"),
        };
        return operands switch
        {
            [] => Instruction.Create(form),
            [Register a] => Instruction.Create(form, a),
            [MemoryOperand a] => Instruction.Create(form, a),
            [long v] => Instruction.Create(form, (int)v),
            [Register a, Register b] => Instruction.Create(form, a, b),
            [Register a, MemoryOperand b] => Instruction.Create(form, a, b),
            [MemoryOperand a, Register b] => Instruction.Create(form, a, b),
            [var a, long v] => Imm(form, a, v),
            [Register a, Register b, long v] => Instruction.Create(form, a, b, (int)v),
            [Register a, MemoryOperand b, long v] => Instruction.Create(form, a, b, (int)v),
            [MemoryOperand a, Register b, long v] => Instruction.Create(form, a, b, (int)v),
            [Register a, Register b, Register c] => Instruction.Create(form, a, b, c),
            [MemoryOperand a, Register b, Register c] => Instruction.Create(form, a, b, c),
            _ => throw new ArgumentException("unsupported operand combination"),
        };
    }

    private static uint Iced(RflagsBits bits)
    {
        uint f = 0;
        if ((bits & RflagsBits.CF) != 0) f |= Cf;
        if ((bits & RflagsBits.PF) != 0) f |= Pf;
        if ((bits & RflagsBits.AF) != 0) f |= Af;
        if ((bits & RflagsBits.ZF) != 0) f |= Zf;
        if ((bits & RflagsBits.SF) != 0) f |= Sf;
        if ((bits & RflagsBits.OF) != 0) f |= Of;
        return f;
    }

    /// <summary>
    /// The undefined flags after <paramref name="i"/>. Shifts and rotates follow the SDM's count rules (a zero count
    /// changes nothing; OF only for a count of 1; CF of SHL/SHR past the operand width); a count in CL is unknown here,
    /// so then every flag the instruction may leave undefined is taken as undefined and the rest keep their state.
    /// </summary>
    private static uint FlagsAfter(Instruction i, uint undefined)
    {
        var m = i.Mnemonic;
        if (m is Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror or
            Mnemonic.Rcl or Mnemonic.Rcr or Mnemonic.Shld or Mnemonic.Shrd)
        {
            int width = Width(i.Code);
            bool shift = m is not (Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr);
            bool cfPastWidth = m is Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr && width < 32;
            int countOp = i.OpCount - 1;
            if (i.GetOpKind(countOp) == OpKind.Register)
                return undefined | Of | (shift ? Af : 0) | (cfPastWidth ? Cf : 0);
            int count = (int)(i.GetImmediate(countOp) & 31);
            if (count == 0) return undefined;
            uint defined = shift ? Cf | Pf | Zf | Sf | Of : Cf | Of;
            uint left = (count == 1 ? 0 : Of) | (shift ? Af : 0) | (cfPastWidth && count >= width ? Cf : 0);
            // RCL/RCR rotate through CF modulo width+1: a multiple of that leaves CF as it was.
            if (m is Mnemonic.Rcl or Mnemonic.Rcr && width < 32 && count % (width + 1) == 0) defined &= ~Cf;
            return (undefined & ~defined) | left;
        }
        uint modified = Iced(i.RflagsModified), undef = Iced(i.RflagsUndefined);
        return (undefined & ~modified) | undef;
    }

    private uint RandomInteger() => _random.Next(6) switch
    {
        0 => (uint)_random.Next(256),
        1 => (uint)(int)(sbyte)_random.Next(256),
        2 => new uint[] { 0u, 1u, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF }[_random.Next(11)],
        _ => (uint)_random.NextInt64(0x1_0000_0000),
    };

    /// <summary>An FXSAVE image: exceptions masked, random rounding and precision control, a random stack of interesting values.</summary>
    private byte[] RandomFpuImage()
    {
        var image = new byte[512];
        int pc = new[] { 0, 2, 3, 3 }[_random.Next(4)];
        ushort masks = (ushort)(_unchecked && _random.Next(2) == 0 ? _random.Next(0x40) : 0x3F);
        ushort fcw = (ushort)(0x40 | masks | pc << 8 | _random.Next(4) << 10);
        int top = _random.Next(8), depth = _random.Next(9);
        ushort fsw = (ushort)(top << 11 | (_random.Next(2) == 0 ? 0 : _random.Next(0x40)) | (_random.Next(16) switch { var c => (c & 7) << 8 | (c & 8) << 11 }));
        byte tags = 0;
        for (int i = 0; i < depth; i++) tags |= (byte)(1 << ((top + i) & 7));
        if (_random.Next(8) == 0) tags = (byte)_random.Next(256);
        BinaryPrimitives.WriteUInt16LittleEndian(image, fcw);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(2), fsw);
        image[4] = tags;
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(24), 0x1F80);
        for (int i = 0; i < 8; i++)
        {
            var (sig, se) = InterestingExtended();
            BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(32 + 16 * i), sig);
            BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(40 + 16 * i), se);
        }
        return image;
    }

    /// <summary>16 slots of 16 bytes, each holding a typed value (real of each size, integers) or random bytes.</summary>
    private byte[] RandomData()
    {
        var data = new byte[FuzzCase.DataSize];
        for (int slot = 0; slot < FuzzCase.DataSize / 16; slot++)
        {
            var s = data.AsSpan(16 * slot, 16);
            switch (_random.Next(6))
            {
                case 0:
                    _random.NextBytes(s);
                    break;
                case 1:
                    BinaryPrimitives.WriteUInt64LittleEndian(s, BitConverter.DoubleToUInt64Bits(InterestingDouble()));
                    BinaryPrimitives.WriteUInt64LittleEndian(s[8..], BitConverter.DoubleToUInt64Bits(InterestingDouble()));
                    break;
                case 2:
                    for (int k = 0; k < 4; k++) BinaryPrimitives.WriteSingleLittleEndian(s[(4 * k)..], (float)InterestingDouble());
                    break;
                case 3:
                    var (sig, se) = InterestingExtended();
                    BinaryPrimitives.WriteUInt64LittleEndian(s, sig);
                    BinaryPrimitives.WriteUInt16LittleEndian(s[8..], se);
                    break;
                default:
                    for (int k = 0; k < 4; k++) BinaryPrimitives.WriteUInt32LittleEndian(s[(4 * k)..], RandomInteger());
                    if (_random.Next(2) == 0) BinaryPrimitives.WriteInt64LittleEndian(s, _random.NextInt64(long.MinValue, long.MaxValue) >> _random.Next(64));
                    break;
            }
        }
        return data;
    }

    private double InterestingDouble() => _random.Next(10) switch
    {
        0 => new[] { 0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 3.0, 10.0, Math.PI, 1e10, -1e-10 }[_random.Next(13)],
        1 => new[] { double.PositiveInfinity, double.NegativeInfinity, double.NaN, BitConverter.UInt64BitsToDouble(0x7FF4_0000_0000_0001),
              double.Epsilon, -double.Epsilon, double.MaxValue, double.MinValue, 2.2250738585072014e-308 }[_random.Next(9)],
        2 => _random.Next(-70000, 70000) + _random.Next(4) * 0.25,
        3 => Math.ScaleB(_random.NextDouble() - 0.5, _random.Next(-1100, 1100)),
        4 => (float)Math.ScaleB(_random.NextDouble(), _random.Next(-160, 140)),
        _ => Math.ScaleB(_random.NextDouble() * 2 - 1, _random.Next(-40, 64)),
    };

    /// <summary>80-bit values: from doubles, full 64-bit significands over the whole exponent range, and the special encodings.</summary>
    private (ulong Significand, ushort SignExponent) InterestingExtended()
    {
        ushort sign = (ushort)(_random.Next(2) << 15);
        ulong full = (ulong)_random.NextInt64() | 1UL << 63;
        switch (_random.Next(12))
        {
            case 0: // denormal or pseudo-denormal
                return (full >> _random.Next(1, 64) | (_random.Next(8) == 0 ? 1UL << 63 : 0), sign);
            case 1: // unnormal, pseudo-infinity, pseudo-NaN
                return (full & ~(1UL << 63), (ushort)(sign | (_random.Next(2) == 0 ? 0x7FFF : _random.Next(1, 0x7FFF))));
            case 2: // infinity, QNaN, SNaN, indefinite
                return (_random.Next(4) switch { 0 => 1UL << 63, 1 => full | 1UL << 62, 2 => (full & ~(1UL << 62)) | 1, _ => 0xC000_0000_0000_0000 }, (ushort)(sign | 0x7FFF));
            case 3: // huge or tiny normals
                return (full, (ushort)(sign | (_random.Next(2) == 0 ? _random.Next(1, 64) : _random.Next(0x7FBF, 0x7FFF))));
            case 4 or 5 or 6:
                return (full, (ushort)(sign | (16383 + _random.Next(-70, 70))));
            case 7: // few significant bits: exact sums, ties
                return (full & ~((1UL << _random.Next(40, 63)) - 1), (ushort)(sign | (16383 + _random.Next(-10, 66))));
            default:
                double d = InterestingDouble();
                ulong bits = BitConverter.DoubleToUInt64Bits(d);
                int e = (int)(bits >> 52 & 0x7FF);
                ulong frac = bits & 0xF_FFFF_FFFF_FFFF;
                ushort s = (ushort)(bits >> 63 << 15);
                if (e == 0 && frac == 0) return (0, s);
                if (e == 0x7FF) return (1UL << 63 | frac << 11, (ushort)(s | 0x7FFF));
                if (e == 0)
                {
                    int lz = System.Numerics.BitOperations.LeadingZeroCount(frac);
                    return (frac << lz, (ushort)(s | (63 - lz - 1074 + 16383)));
                }
                return (1UL << 63 | frac << 11, (ushort)(s | (e - 1023 + 16383)));
        }
    }
}
