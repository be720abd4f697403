using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// Instructions with a 64-bit operand size (REX.W) in 64-bit mode. Their flags are computed at once rather than
// lazily: the lazy flag state holds 32-bit operands, and the 16/32-bit paths stay as they are.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] Alu64Ops() =>
    [
        Op(Mnemonic.Mov, &Mov64, CpuModes.LongWide), Op(Mnemonic.Movzx, &Movzx64, CpuModes.LongWide),
        ..Ops([Mnemonic.Movsx, Mnemonic.Movsxd], &Movsx64, CpuModes.LongWide),
        Op(Mnemonic.Add, &Add64, CpuModes.LongWide), Op(Mnemonic.Adc, &Adc64, CpuModes.LongWide),
        Op(Mnemonic.Sub, &Sub64, CpuModes.LongWide), Op(Mnemonic.Sbb, &Sbb64, CpuModes.LongWide),
        Op(Mnemonic.Cmp, &Cmp64, CpuModes.LongWide), Op(Mnemonic.And, &And64, CpuModes.LongWide),
        Op(Mnemonic.Or, &Or64, CpuModes.LongWide), Op(Mnemonic.Xor, &Xor64, CpuModes.LongWide),
        Op(Mnemonic.Test, &Test64, CpuModes.LongWide), Op(Mnemonic.Not, &Not64, CpuModes.LongWide),
        Op(Mnemonic.Neg, &Neg64, CpuModes.LongWide), Op(Mnemonic.Inc, &Inc64, CpuModes.LongWide),
        Op(Mnemonic.Dec, &Dec64, CpuModes.LongWide),
        ..Ops([Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sar], &Shift64, CpuModes.LongWide),
        Op(Mnemonic.Xchg, &Xchg64, CpuModes.LongWide),
        ..Ops([Mnemonic.Rol, Mnemonic.Ror], &Rotate64, CpuModes.LongWide), Op(Mnemonic.Mul, &Mul64, CpuModes.LongWide),
        Op(Mnemonic.Imul, &Imul64, CpuModes.LongWide), Op(Mnemonic.Div, &Div64, CpuModes.LongWide),
        Op(Mnemonic.Idiv, &Idiv64, CpuModes.LongWide), Op(Mnemonic.Bswap, &Bswap64, CpuModes.LongWide),
        Op(Mnemonic.Xadd, &Xadd64, CpuModes.LongWide), Op(Mnemonic.Cmpxchg, &Cmpxchg64, CpuModes.LongWide),
        ..Ops(CmovMnemonics, &Cmov64, CpuModes.LongWide), Op(Mnemonic.Cdqe, &Cdqe, CpuModes.LongWide),
        Op(Mnemonic.Cqo, &Cqo, CpuModes.LongWide),
        ..Ops([Mnemonic.Shld, Mnemonic.Shrd], &DoubleShift64, CpuModes.LongWide),
    ];

    /// <summary>Operand <paramref name="n"/> as 64 bits: a 64-bit register, memory, or a sign-extended immediate.</summary>
    private ulong ReadOp64(ref DecodedOp d, int n)
    {
        var loc = n == 0 ? d.Loc0 : d.Loc1;
        switch (loc)
        {
            case OperandLoc.Gpr64: return _gpr[n == 0 ? d.Reg0 : d.Reg1];
            case OperandLoc.Immediate: return (ulong)(long)(int)d.Imm;
            case OperandLoc.Immediate64: return d.Disp;
            case OperandLoc.Other when d.I.GetOpKind(n) == OpKind.Memory: return ReadLinear64(Linear64(ref d, 8));
            default: throw new UnimplementedInstruction($"64-bit operand {n} of {d.I}");
        }
    }

    private ulong ReadDst64(ref DecodedOp d)
    {
        if (d.Loc0 == OperandLoc.Gpr64) return _gpr[d.Reg0];
        if (d.I.Op0Kind != OpKind.Memory) throw new UnimplementedInstruction($"64-bit destination of {d.I}");
        _dstLinear = Linear64(ref d, 8);
        return ReadLinear64(_dstLinear);
    }

    private void WriteDst64(ref DecodedOp d, ulong value)
    {
        if (d.Loc0 == OperandLoc.Gpr64) _gpr[d.Reg0] = value;
        else WriteLinear64(_dstLinear, value);
    }

    private void WriteOp64(ref DecodedOp d, ulong value)
    {
        if (d.Loc0 == OperandLoc.Gpr64) _gpr[d.Reg0] = value;
        else if (d.I.Op0Kind == OpKind.Memory) WriteLinear64(Linear64(ref d, 8), value);
        else throw new UnimplementedInstruction($"64-bit destination of {d.I}");
    }

    /// <summary>MOV with a 64-bit operand: registers, memory, imm32 sign-extended or imm64, and the control registers.</summary>
    private static void Mov64(InterpreterCpu c, ref DecodedOp d)
    {
        if (d.Loc1 == OperandLoc.Other && d.I.Op1Kind == OpKind.Register)
        {
            var r = d.I.Op1Register;
            ulong v = r.IsCR() ? c.ReadControlRegister(RegNumbers[(int)r]) : c.ReadReg(r); // segment registers zero-extend
            c.WriteOp64(ref d, v);
            return;
        }
        ulong value = c.ReadOp64(ref d, 1);
        if (d.Loc0 == OperandLoc.Other && d.I.Op0Kind == OpKind.Register && d.I.Op0Register.IsDR())
        {
            int n = RegNumbers[(int)d.I.Op0Register];
            // DR6 and DR7 have no bits above 31; breakpoint addresses above 4 GiB are not kept by DebugRegisters.cs.
            if (value > uint.MaxValue)
            {
                if (n >= 4) throw new CpuFault(Vector.GeneralProtection, 0);
                throw new UnimplementedInstruction($"{d.I}: a breakpoint address above 4 GiB ({value:x16})");
            }
            c.WriteDebugRegister(n, (uint)value);
            return;
        }
        if (d.Loc0 == OperandLoc.Other && d.I.Op0Kind == OpKind.Register && d.I.Op0Register.IsCR())
        {
            int n = RegNumbers[(int)d.I.Op0Register];
            if (n == 2)
            {
                c.RequireCpl0();
                c._cr2 = value;
                return;
            }
            // Bits 32-63 of CR0, CR4 and (MAXPHYADDR 32) CR3 are reserved.
            if (value > uint.MaxValue) throw new CpuFault(Vector.GeneralProtection, 0);
            c.WriteControlRegister(n, (uint)value);
            return;
        }
        c.WriteOp64(ref d, value);
    }

    private static void Movzx64(InterpreterCpu c, ref DecodedOp d) => c._gpr[d.Reg0] = c.ReadOp(ref d, 1);

    private static void Movsx64(InterpreterCpu c, ref DecodedOp d)
    {
        uint v = c.ReadOp(ref d, 1);
        int srcSize = d.I.Op1Kind == OpKind.Register ? d.I.Op1Register.GetSize() : d.MemSize;
        c._gpr[d.Reg0] = srcSize switch { 1 => (ulong)(sbyte)v, 2 => (ulong)(short)v, _ => (ulong)(int)v };
    }

    private static void Add64(InterpreterCpu c, ref DecodedOp d) { ulong a = c.ReadDst64(ref d); c.WriteDst64(ref d, c.AluAdd(a, c.ReadOp64(ref d, 1), 0, 8)); }
    private static void Adc64(InterpreterCpu c, ref DecodedOp d) { ulong a = c.ReadDst64(ref d); c.WriteDst64(ref d, c.AluAdd(a, c.ReadOp64(ref d, 1), c.Eflags & FlagCf, 8)); }
    private static void Sub64(InterpreterCpu c, ref DecodedOp d) { ulong a = c.ReadDst64(ref d); c.WriteDst64(ref d, c.AluSub(a, c.ReadOp64(ref d, 1), 0, 8)); }
    private static void Sbb64(InterpreterCpu c, ref DecodedOp d) { ulong a = c.ReadDst64(ref d); c.WriteDst64(ref d, c.AluSub(a, c.ReadOp64(ref d, 1), c.Eflags & FlagCf, 8)); }
    private static void Cmp64(InterpreterCpu c, ref DecodedOp d) => c.AluSub(c.ReadOp64(ref d, 0), c.ReadOp64(ref d, 1), 0, 8);
    private static void And64(InterpreterCpu c, ref DecodedOp d) { ulong a = c.ReadDst64(ref d); c.WriteDst64(ref d, c.Logic(a & c.ReadOp64(ref d, 1), 8)); }
    private static void Or64(InterpreterCpu c, ref DecodedOp d) { ulong a = c.ReadDst64(ref d); c.WriteDst64(ref d, c.Logic(a | c.ReadOp64(ref d, 1), 8)); }
    private static void Xor64(InterpreterCpu c, ref DecodedOp d) { ulong a = c.ReadDst64(ref d); c.WriteDst64(ref d, c.Logic(a ^ c.ReadOp64(ref d, 1), 8)); }
    private static void Test64(InterpreterCpu c, ref DecodedOp d) => c.Logic(c.ReadOp64(ref d, 0) & c.ReadOp64(ref d, 1), 8);
    private static void Not64(InterpreterCpu c, ref DecodedOp d) => c.WriteDst64(ref d, ~c.ReadDst64(ref d));
    private static void Neg64(InterpreterCpu c, ref DecodedOp d) => c.WriteDst64(ref d, c.AluSub(0, c.ReadDst64(ref d), 0, 8));

    private static void Inc64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong a = c.ReadDst64(ref d);
        c.WriteDst64(ref d, c.IncDec(a, dec: false, 8));
    }

    private static void Dec64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong a = c.ReadDst64(ref d);
        c.WriteDst64(ref d, c.IncDec(a, dec: true, 8));
    }

    /// <summary>SHL/SHR/SAR r/m64 by 1, CL or imm8 (count masked to 6 bits; a zero count changes nothing).</summary>
    private static void Shift64(InterpreterCpu c, ref DecodedOp d)
    {
        int count = (int)c.ShiftCount(ref d, 0x3F);
        ulong a = c.ReadDst64(ref d);
        if (count == 0) return;
        ulong res;
        uint cf, of;
        switch (d.I.Mnemonic)
        {
            case Mnemonic.Shl:
                res = a << count;
                cf = (uint)(a >> (64 - count)) & 1;
                of = (uint)(res >> 63) ^ cf;
                break;
            case Mnemonic.Shr:
                res = a >> count;
                cf = (uint)(a >> (count - 1)) & 1;
                of = (uint)(a >> 63);
                break;
            default:
                res = (ulong)((long)a >> count);
                cf = (uint)((long)a >> (count - 1)) & 1;
                of = 0;
                break;
        }
        c.SetArith(cf | Szp(res, 8) | (of << 11));
        c.WriteDst64(ref d, res);
    }

    /// <summary>SHLD/SHRD with REX.W: the count (CL or imm8) masked to 6 bits; OF as for a one-bit shift, AF cleared.</summary>
    private static void DoubleShift64(InterpreterCpu c, ref DecodedOp d)
    {
        int count = (int)((d.I.Op2Kind == OpKind.Register ? (uint)c._gpr[RegEcx] : d.Imm) & 0x3F);
        ulong a = c.ReadDst64(ref d), fill = c._gpr[d.Reg1];
        if (count == 0) return;
        bool left = d.I.Mnemonic == Mnemonic.Shld;
        ulong res = left ? a << count | fill >> (64 - count) : a >> count | fill << (64 - count);
        uint cf = (uint)(left ? a >> (64 - count) : a >> (count - 1)) & 1;
        uint of = (uint)((res ^ a) >> 63);
        c.SetArith(cf | Szp(res, 8) | (of << 11));
        c.WriteDst64(ref d, res);
    }

    private static void Xchg64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong a = c.ReadDst64(ref d);
        ulong b = c._gpr[d.Reg1];
        c._gpr[d.Reg1] = a;
        c.WriteDst64(ref d, b);
    }

    private static void Cdqe(InterpreterCpu c, ref DecodedOp d) => c._gpr[RegEax] = (ulong)(int)(uint)c._gpr[RegEax];
    private static void Cqo(InterpreterCpu c, ref DecodedOp d) => c._gpr[RegEdx] = (long)c._gpr[RegEax] < 0 ? ulong.MaxValue : 0;

    /// <summary>ROL/ROR r/m64: only CF and OF change (OF defined for a count of 1, computed the same way otherwise).</summary>
    private static void Rotate64(InterpreterCpu c, ref DecodedOp d)
    {
        int count = (int)c.ShiftCount(ref d, 0x3F);
        ulong a = c.ReadDst64(ref d);
        if (count == 0) return;
        ulong res;
        uint cf, of;
        if (d.I.Mnemonic == Mnemonic.Rol)
        {
            res = ulong.RotateLeft(a, count);
            cf = (uint)res & 1;
            of = (uint)(res >> 63) ^ cf;
        }
        else
        {
            res = ulong.RotateRight(a, count);
            cf = (uint)(res >> 63);
            of = cf ^ (uint)(res >> 62) & 1;
        }
        c.Eflags = (c.Eflags & ~(FlagCf | FlagOf)) | cf | (of << 11);
        c.WriteDst64(ref d, res);
    }

    /// <summary>MUL r/m64: RDX:RAX = RAX * src; CF and OF say whether RDX is needed.</summary>
    private static void Mul64(InterpreterCpu c, ref DecodedOp d)
    {
        UInt128 p = (UInt128)c._gpr[RegEax] * c.ReadOp64(ref d, 0);
        c._gpr[RegEax] = (ulong)p;
        c._gpr[RegEdx] = (ulong)(p >> 64);
        c.SetArith((c._gpr[RegEdx] != 0 ? FlagCf | FlagOf : 0) | Szp((ulong)p, 8));
    }

    /// <summary>IMUL with a 64-bit operand: one operand (RDX:RAX), two (reg *= r/m) or three (reg = r/m * imm).</summary>
    private static void Imul64(InterpreterCpu c, ref DecodedOp d)
    {
        Int128 p;
        bool overflow;
        if (d.I.OpCount == 1)
        {
            p = (Int128)(long)c._gpr[RegEax] * (long)c.ReadOp64(ref d, 0);
            c._gpr[RegEax] = (ulong)p;
            c._gpr[RegEdx] = (ulong)(p >> 64);
            overflow = p != (long)p;
        }
        else
        {
            long a = (long)c.ReadOp64(ref d, d.I.OpCount == 2 ? 0 : 1);
            long b = d.I.OpCount == 2 ? (long)c.ReadOp64(ref d, 1) : (int)d.Imm;
            p = (Int128)a * b;
            overflow = p != (long)p;
            c._gpr[d.Reg0] = (ulong)p;
        }
        c.SetArith((overflow ? FlagCf | FlagOf : 0) | Szp((ulong)p, 8));
    }

    /// <summary>DIV r/m64: RDX:RAX / src; #DE on a zero divisor or a quotient beyond 64 bits.</summary>
    private static void Div64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong divisor = c.ReadOp64(ref d, 0);
        if (divisor == 0) throw new CpuFault(Vector.DivideError);
        UInt128 n = ((UInt128)c._gpr[RegEdx] << 64) | c._gpr[RegEax];
        UInt128 q = n / divisor;
        if (q > ulong.MaxValue) throw new CpuFault(Vector.DivideError);
        c._gpr[RegEax] = (ulong)q;
        c._gpr[RegEdx] = (ulong)(n % divisor);
    }

    /// <summary>IDIV r/m64: signed RDX:RAX / src; #DE on a zero divisor or a quotient beyond 64 bits signed.</summary>
    private static void Idiv64(InterpreterCpu c, ref DecodedOp d)
    {
        long divisor = (long)c.ReadOp64(ref d, 0);
        if (divisor == 0) throw new CpuFault(Vector.DivideError);
        Int128 n = (Int128)(((UInt128)c._gpr[RegEdx] << 64) | c._gpr[RegEax]);
        if (n == Int128.MinValue && divisor == -1) throw new CpuFault(Vector.DivideError);
        Int128 q = n / divisor;
        if (q != (long)q) throw new CpuFault(Vector.DivideError);
        c._gpr[RegEax] = (ulong)(long)q;
        c._gpr[RegEdx] = (ulong)(long)(n % divisor);
    }

    private static void Bswap64(InterpreterCpu c, ref DecodedOp d) =>
        c._gpr[d.Reg0] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(c._gpr[d.Reg0]);

    private static void Cmov64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong v = c.ReadOp64(ref d, 1); // the source is read (and may fault) whatever the condition
        if (c.Condition(d.Cond)) c._gpr[d.Reg0] = v;
    }

    private static void Xadd64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong a = c.ReadDst64(ref d);
        ulong sum = c.AluAdd(a, c._gpr[d.Reg1], 0, 8);
        c._gpr[d.Reg1] = a;
        c.WriteDst64(ref d, sum);
    }

    private static void Cmpxchg64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong a = c.ReadDst64(ref d);
        c.AluSub(c._gpr[RegEax], a, 0, 8);
        if ((c.Eflags & FlagZf) != 0) c.WriteDst64(ref d, c._gpr[d.Reg1]);
        else
        {
            c.WriteDst64(ref d, a); // the destination is always written, as on hardware
            c._gpr[RegEax] = a;
        }
    }
}
