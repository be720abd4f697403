using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// MOV MOVZX MOVSX XCHG LEA LDS/LES/LFS/LGS/LSS XLAT BSWAP CMOVcc SETcc.
public sealed unsafe partial class InterpreterCpu
{
    private static void RegisterDataTransfer()
    {
        Register(Mnemonic.Mov, &MovOp); Register(Mnemonic.Movzx, &Movzx); Register(Mnemonic.Movsx, &Movsx);
        Register(Mnemonic.Xchg, &Xchg); Register(Mnemonic.Lea, &Lea); Register(Mnemonic.Xlatb, &Xlat);
        Register(Mnemonic.Lds, &LoadFarPointer); Register(Mnemonic.Les, &LoadFarPointer); Register(Mnemonic.Lfs, &LoadFarPointer);
        Register(Mnemonic.Lgs, &LoadFarPointer); Register(Mnemonic.Lss, &LoadFarPointer);
        Register(Mnemonic.Bswap, &Bswap);
        foreach (var m in new[] { Mnemonic.Cmovo, Mnemonic.Cmovno, Mnemonic.Cmovb, Mnemonic.Cmovae, Mnemonic.Cmove, Mnemonic.Cmovne,
                     Mnemonic.Cmovbe, Mnemonic.Cmova, Mnemonic.Cmovs, Mnemonic.Cmovns, Mnemonic.Cmovp, Mnemonic.Cmovnp,
                     Mnemonic.Cmovl, Mnemonic.Cmovge, Mnemonic.Cmovle, Mnemonic.Cmovg })
            Register(m, &Cmov);
        foreach (var m in new[] { Mnemonic.Seto, Mnemonic.Setno, Mnemonic.Setb, Mnemonic.Setae, Mnemonic.Sete, Mnemonic.Setne,
                     Mnemonic.Setbe, Mnemonic.Seta, Mnemonic.Sets, Mnemonic.Setns, Mnemonic.Setp, Mnemonic.Setnp,
                     Mnemonic.Setl, Mnemonic.Setge, Mnemonic.Setle, Mnemonic.Setg })
            Register(m, &Setcc);
        RegisterBitOps();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MovOp(InterpreterCpu c, ref DecodedOp d)
    {
        uint v = c.ReadOp(ref d, 1);
        if (d.Loc0 == OperandLoc.Other && d.I.Op0Register == Iced.Intel.Register.SS) c._interruptShadow = c._ssShadow = true;
        c.WriteOp0(ref d, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Movzx(InterpreterCpu c, ref DecodedOp d) => c.WriteReg(d.I.Op0Register, c.ReadOp(ref d, 1));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Movsx(InterpreterCpu c, ref DecodedOp d)
    {
        uint v = c.ReadOp(ref d, 1);
        int srcSize = d.I.Op1Kind == OpKind.Register ? d.I.Op1Register.GetSize() : d.MemSize;
        c.WriteReg(d.I.Op0Register, srcSize == 1 ? (uint)(sbyte)v : (uint)(short)v);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Xchg(InterpreterCpu c, ref DecodedOp d)
    {
        uint a = c.ReadDst(ref d);
        uint b = c.ReadOp(ref d, 1);
        c.WriteReg(d.I.Op1Register, a);
        c.WriteDst(ref d, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Lea(InterpreterCpu c, ref DecodedOp d) => c.WriteReg(d.I.Op0Register, c.EffectiveAddress(ref d));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Xlat(InterpreterCpu c, ref DecodedOp d)
    {
        uint addr = ((uint)c._gpr[d.Base] + ((uint)c._gpr[RegEax] & 0xFF)) & d.AddrMask;
        c.Al = c.ReadMem8(d.Seg, addr);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LoadFarPointer(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        uint addr = c.EffectiveAddress(ref d);
        uint offset = c.ReadMem(d.Seg, addr, size);
        uint selector = c.ReadMem16(d.Seg, (addr + (uint)size) & d.AddrMask);
        int seg = d.I.Mnemonic switch
        {
            Mnemonic.Lds => SegDs, Mnemonic.Les => SegEs, Mnemonic.Lfs => SegFs, Mnemonic.Lgs => SegGs, _ => SegSs,
        };
        c.LoadSegment(seg, (ushort)selector);
        if (seg == SegSs) c._interruptShadow = true;
        c.WriteReg(d.I.Op0Register, offset);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bswap(InterpreterCpu c, ref DecodedOp d)
    {
        int n = RegNumbers[(int)d.I.Op0Register];
        c._gpr[n] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)c._gpr[n]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cmov(InterpreterCpu c, ref DecodedOp d)
    {
        uint v = c.ReadOp(ref d, 1); // the source is read (and may fault) whatever the condition
        if (c.Condition(d.Cond)) c.WriteReg(d.I.Op0Register, v);
        else if (d.OpSize == 4) c.WriteReg(d.I.Op0Register, c.ReadReg(d.I.Op0Register));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Setcc(InterpreterCpu c, ref DecodedOp d) => c.WriteOp0(ref d, c.Condition(d.Cond) ? 1u : 0);
}
