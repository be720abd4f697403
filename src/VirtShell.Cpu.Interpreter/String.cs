using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// MOVS CMPS STOS LODS SCAS INS OUTS with REP/REPE/REPNE. A long REP runs in slices: after RepSlice iterations the
// instruction restarts itself so that interrupts and exit requests are seen between slices, as on hardware.
public sealed unsafe partial class InterpreterCpu
{
    private const int RepSlice = 4096;

    private static OpcodeRow[] StringOps() =>
    [
        ..Ops([Mnemonic.Movsb, Mnemonic.Movsw, Mnemonic.Movsd], &Movs),
        ..Ops([Mnemonic.Cmpsb, Mnemonic.Cmpsw, Mnemonic.Cmpsd], &Cmps),
        ..Ops([Mnemonic.Stosb, Mnemonic.Stosw, Mnemonic.Stosd], &Stos),
        ..Ops([Mnemonic.Lodsb, Mnemonic.Lodsw, Mnemonic.Lodsd], &Lods),
        ..Ops([Mnemonic.Scasb, Mnemonic.Scasw, Mnemonic.Scasd], &Scas),
        ..Ops([Mnemonic.Insb, Mnemonic.Insw, Mnemonic.Insd], &Ins),
        ..Ops([Mnemonic.Outsb, Mnemonic.Outsw, Mnemonic.Outsd], &Outs),
    ];

    private enum StringKind { Movs, Cmps, Stos, Lods, Scas, Ins, Outs }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Movs(InterpreterCpu c, ref DecodedOp d) => c.StringOp(ref d, StringKind.Movs);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Cmps(InterpreterCpu c, ref DecodedOp d) => c.StringOp(ref d, StringKind.Cmps);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Stos(InterpreterCpu c, ref DecodedOp d) => c.StringOp(ref d, StringKind.Stos);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Lods(InterpreterCpu c, ref DecodedOp d) => c.StringOp(ref d, StringKind.Lods);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scas(InterpreterCpu c, ref DecodedOp d) => c.StringOp(ref d, StringKind.Scas);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Ins(InterpreterCpu c, ref DecodedOp d) => c.StringOp(ref d, StringKind.Ins);
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Outs(InterpreterCpu c, ref DecodedOp d) => c.StringOp(ref d, StringKind.Outs);

    private void StringOp(ref DecodedOp d, StringKind kind)
    {
        // MOVSD and CMPSD are also SSE2 mnemonics; those forms are not string instructions.
        if (!d.I.IsStringInstruction) { Unimplemented(this, ref d); return; }
        int size = d.MemSize;
        if (kind is StringKind.Ins or StringKind.Outs) CheckIoPrivilege((uint)_gpr[RegEdx], size);
        uint mask = d.AddrMask;
        uint step = (_flagBits & FlagDf) != 0 ? (uint)-size : (uint)size;
        bool rep = d.I.HasRepPrefix || d.I.HasRepnePrefix;
        if (!rep)
        {
            StringStep(ref d, kind, size, mask, step);
            return;
        }
        bool conditional = kind is StringKind.Cmps or StringKind.Scas;
        bool whileEqual = d.I.HasRepePrefix;
        for (int budget = RepSlice; ; budget--)
        {
            uint count = (uint)_gpr[RegEcx] & mask;
            if (count == 0) return;
            if (budget == 0)
            {
                _eip = _instrStart;
                _breakBlock = true;
                return;
            }
            StringStep(ref d, kind, size, mask, step);
            _gpr[RegEcx] = (_gpr[RegEcx] & ~(ulong)mask) | ((count - 1) & mask);
            if (conditional && ((Eflags & FlagZf) != 0) != whileEqual) return;
        }
    }

    private void StringStep(ref DecodedOp d, StringKind kind, int size, uint mask, uint step)
    {
        uint si = (uint)_gpr[RegEsi] & mask, di = (uint)_gpr[RegEdi] & mask;
        switch (kind)
        {
            case StringKind.Movs:
                WriteMem(SegEs, di, size, ReadMem(d.Seg, si, size));
                AdvanceSi(mask, step);
                AdvanceDi(mask, step);
                break;
            case StringKind.Cmps:
            {
                uint a = ReadMem(d.Seg, si, size);
                uint b = ReadMem(SegEs, di, size);
                AluSub(a, b, 0, size);
                AdvanceSi(mask, step);
                AdvanceDi(mask, step);
                break;
            }
            case StringKind.Stos:
                WriteMem(SegEs, di, size, ReadGpr(RegEax, size));
                AdvanceDi(mask, step);
                break;
            case StringKind.Lods:
                WriteGpr(RegEax, size, ReadMem(d.Seg, si, size));
                AdvanceSi(mask, step);
                break;
            case StringKind.Scas:
                AluSub(ReadGpr(RegEax, size), ReadMem(SegEs, di, size), 0, size);
                AdvanceDi(mask, step);
                break;
            case StringKind.Ins:
            {
                uint linear = LinearWrite(SegEs, di, size);
                WriteLinear(linear, size, _ports.Read((ushort)(uint)_gpr[RegEdx], size));
                AdvanceDi(mask, step);
                break;
            }
            case StringKind.Outs:
                _ports.Write((ushort)(uint)_gpr[RegEdx], size, ReadMem(d.Seg, si, size));
                AdvanceSi(mask, step);
                break;
        }
    }

    private void AdvanceSi(uint mask, uint step) => _gpr[RegEsi] = (_gpr[RegEsi] & ~(ulong)mask) | (((uint)_gpr[RegEsi] + step) & mask);
    private void AdvanceDi(uint mask, uint step) => _gpr[RegEdi] = (_gpr[RegEdi] & ~(ulong)mask) | (((uint)_gpr[RegEdi] + step) & mask);
}
