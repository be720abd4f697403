using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// MOVS STOS LODS CMPS SCAS in 64-bit mode, with REP/REPE/REPNE, for 64-bit addressing (RSI, RDI, RCX); the source
// may have an FS or GS override, the destination is ES, whose base 64-bit mode ignores. INS OUTS and 32-bit addressing
// (an address-size prefix) are not done here and stop as unimplemented.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] String64Ops() =>
    [
        ..Ops([Mnemonic.Movsb, Mnemonic.Movsw, Mnemonic.Movsd, Mnemonic.Movsq], &Movs64, CpuModes.Long64),
        ..Ops([Mnemonic.Stosb, Mnemonic.Stosw, Mnemonic.Stosd, Mnemonic.Stosq], &Stos64, CpuModes.Long64),
        ..Ops([Mnemonic.Lodsb, Mnemonic.Lodsw, Mnemonic.Lodsd, Mnemonic.Lodsq], &Lods64, CpuModes.Long64),
        ..Ops([Mnemonic.Cmpsb, Mnemonic.Cmpsw, Mnemonic.Cmpsd, Mnemonic.Cmpsq], &Cmps64, CpuModes.Long64),
        ..Ops([Mnemonic.Scasb, Mnemonic.Scasw, Mnemonic.Scasd, Mnemonic.Scasq], &Scas64, CpuModes.Long64),
    ];

    private static void Movs64(InterpreterCpu c, ref DecodedOp d) => c.StringOp64(ref d, StringKind.Movs);
    private static void Stos64(InterpreterCpu c, ref DecodedOp d) => c.StringOp64(ref d, StringKind.Stos);
    private static void Lods64(InterpreterCpu c, ref DecodedOp d) => c.StringOp64(ref d, StringKind.Lods);
    private static void Cmps64(InterpreterCpu c, ref DecodedOp d) => c.StringOp64(ref d, StringKind.Cmps);
    private static void Scas64(InterpreterCpu c, ref DecodedOp d) => c.StringOp64(ref d, StringKind.Scas);

    private void StringOp64(ref DecodedOp d, StringKind kind)
    {
        bool addr64 = d.I.Op0Kind is OpKind.MemoryESRDI or OpKind.MemorySegRSI || d.I.Op1Kind is OpKind.MemoryESRDI or OpKind.MemorySegRSI;
        if (!d.I.IsStringInstruction || !addr64)
        {
            Unimplemented(this, ref d);
            return;
        }
        int size = d.MemSize;
        ulong step = (_flagBits & FlagDf) != 0 ? (ulong)-size : (ulong)size;
        if (!d.I.HasRepPrefix && !d.I.HasRepnePrefix)
        {
            StringStep64(ref d, kind, size, step);
            return;
        }
        bool conditional = kind is StringKind.Cmps or StringKind.Scas;
        bool whileEqual = d.I.HasRepePrefix;
        for (int budget = RepSlice; _gpr[RegEcx] != 0; budget--)
        {
            if (budget == 0)
            {
                _eip = _instrStart; // the rest runs when the instruction restarts, after any interrupt
                _breakBlock = true;
                return;
            }
            StringStep64(ref d, kind, size, step);
            _gpr[RegEcx]--;
            if (conditional && ((Eflags & FlagZf) != 0) != whileEqual) return;
        }
    }

    private void StringStep64(ref DecodedOp d, StringKind kind, int size, ulong step)
    {
        ulong source = _gpr[RegEsi] + (d.Seg is SegFs or SegGs ? FsGsBase(d.Seg) : 0);
        ulong destination = _gpr[RegEdi];
        switch (kind)
        {
            case StringKind.Movs:
                CheckCanonical(source, size, d.Seg);
                CheckCanonical(destination, size, SegEs);
                WriteString64(destination, size, ReadString64(source, size));
                _gpr[RegEsi] += step;
                _gpr[RegEdi] += step;
                break;
            case StringKind.Stos:
                CheckCanonical(destination, size, SegEs);
                WriteString64(destination, size, _gpr[RegEax]);
                _gpr[RegEdi] += step;
                break;
            case StringKind.Cmps:
                CheckCanonical(source, size, d.Seg);
                CheckCanonical(destination, size, SegEs);
                AluSub(ReadString64(source, size), ReadString64(destination, size), 0, size); // CMP's flags
                _gpr[RegEsi] += step;
                _gpr[RegEdi] += step;
                break;
            case StringKind.Scas:
                CheckCanonical(destination, size, SegEs);
                AluSub(_gpr[RegEax] & WidthMask(size), ReadString64(destination, size), 0, size);
                _gpr[RegEdi] += step;
                break;
            default:
                CheckCanonical(source, size, d.Seg);
                ulong v = ReadString64(source, size);
                if (size == 8) _gpr[RegEax] = v;
                else WriteGpr(RegEax, size, (uint)v);
                _gpr[RegEsi] += step;
                break;
        }
    }

    private ulong ReadString64(ulong linear, int size) => size == 8 ? ReadLinear64(linear) : ReadLinear(linear, size);

    private void WriteString64(ulong linear, int size, ulong value)
    {
        if (size == 8) WriteLinear64(linear, value);
        else WriteLinear(linear, size, (uint)value);
    }
}
