using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// MOV MOVZX MOVSX XCHG LEA LDS/LES/LFS/LGS/LSS XLAT BSWAP CMOVcc SETcc.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] DataTransferOps() =>
    [
        Op(Mnemonic.Mov, &MovOp, CpuModes.LegacyAndLong), Op(Mnemonic.Movzx, &Movzx, CpuModes.LegacyAndLong),
        Op(Mnemonic.Movsx, &Movsx, CpuModes.LegacyAndLong), Op(Mnemonic.Xchg, &Xchg, CpuModes.LegacyAndLong),
        Op(Mnemonic.Lea, &Lea), Op(Mnemonic.Xlatb, &Xlat),
        ..Ops([Mnemonic.Lds, Mnemonic.Les, Mnemonic.Lfs, Mnemonic.Lgs, Mnemonic.Lss], &LoadFarPointer),
        Op(Mnemonic.Bswap, &Bswap, CpuModes.LegacyAndLong), ..Ops(CmovMnemonics, &Cmov, CpuModes.LegacyAndLong),
        ..Ops(SetccMnemonics, &Setcc, CpuModes.LegacyAndLong),
    ];

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
