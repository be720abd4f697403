using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// Decimal adjust: DAA DAS AAA AAS AAM AAD, following the Intel SDM pseudo-code (the 386-and-later behaviour).
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] BcdOps() =>
    [
        Op(Mnemonic.Daa, &Daa), Op(Mnemonic.Das, &Das), Op(Mnemonic.Aaa, &Aaa), Op(Mnemonic.Aas, &Aas),
        Op(Mnemonic.Aam, &Aam), Op(Mnemonic.Aad, &Aad),
    ];

    private uint Al { get => (uint)_gpr[RegEax] & 0xFF; set => _gpr[RegEax] = (_gpr[RegEax] & ~0xFFUL) | (value & 0xFF); }

    private static void Daa(InterpreterCpu c, ref DecodedOp d)
    {
        uint al = c.Al, oldAl = al;
        bool oldCf = c.Cf;
        uint f = 0;
        if ((al & 0xF) > 9 || (c.Eflags & FlagAf) != 0)
        {
            al += 6;
            if (oldCf || al > 0xFF) f |= FlagCf;
            f |= FlagAf;
        }
        if (oldAl > 0x99 || oldCf)
        {
            al += 0x60;
            f |= FlagCf;
        }
        al &= 0xFF;
        c.Al = al;
        c.SetArith(f | Szp(al, 1));
    }

    private static void Das(InterpreterCpu c, ref DecodedOp d)
    {
        uint al = c.Al, oldAl = al;
        bool oldCf = c.Cf;
        uint f = 0;
        if ((al & 0xF) > 9 || (c.Eflags & FlagAf) != 0)
        {
            if (oldCf || al < 6) f |= FlagCf;
            al -= 6;
            f |= FlagAf;
        }
        if (oldAl > 0x99 || oldCf)
        {
            al -= 0x60;
            f |= FlagCf;
        }
        al &= 0xFF;
        c.Al = al;
        c.SetArith(f | Szp(al, 1));
    }

    private static void Aaa(InterpreterCpu c, ref DecodedOp d)
    {
        uint f = 0;
        uint ax = c.Ax;
        if ((ax & 0xF) > 9 || (c.Eflags & FlagAf) != 0)
        {
            ax += 0x106;
            f = FlagAf | FlagCf;
        }
        c.Ax = ax & 0xFF0F;
        c.SetArith(f | Szp(ax & 0xFF, 1));
    }

    private static void Aas(InterpreterCpu c, ref DecodedOp d)
    {
        uint f = 0;
        uint ax = c.Ax;
        if ((ax & 0xF) > 9 || (c.Eflags & FlagAf) != 0)
        {
            ax -= 6;
            ax -= 0x100;
            f = FlagAf | FlagCf;
        }
        c.Ax = ax & 0xFF0F;
        c.SetArith(f | Szp(ax & 0xFF, 1));
    }

    private static void Aam(InterpreterCpu c, ref DecodedOp d)
    {
        uint imm = d.Imm & 0xFF;
        if (imm == 0) throw new CpuFault(Vector.DivideError);
        uint al = c.Al;
        uint res = al % imm;
        c.Ax = ((al / imm) << 8) | res;
        c.SetArith(Szp(res, 1));
    }

    private static void Aad(InterpreterCpu c, ref DecodedOp d)
    {
        uint imm = d.Imm & 0xFF;
        uint ax = c.Ax;
        // The hardware computes AL + AH*imm with the adder, so the flags are an 8-bit ADD's.
        uint r = (uint)c.AluAdd(ax & 0xFF, ((ax >> 8) * imm) & 0xFF, 0, 1);
        c.Ax = r;
    }
}
