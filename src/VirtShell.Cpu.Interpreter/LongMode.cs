using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// IA-32e mode: EFER, 64-bit addressing and the 64-bit-mode handlers of branches, the stack, LEA... Compatibility
// mode (LMA with CS.L=0) runs the 16/32-bit handlers unchanged. In 64-bit mode a handler is used only if the opcode
// table lists it for 64-bit mode: these mode-specific ones, the 64-bit-operand ones of Alu64.cs, and the 8/16/32-bit
// handlers whose memory operands go through ReadOp/ReadDst/WriteDst/WriteOp0 (which compute 64-bit addresses here).
// Anything else stops with the "unimplemented" error rather than run wrong.
// RIP is 64 bits wide; a branch to a non-canonical address is #GP(0) at the branch, and so is running off the end
// of the lower half (GetBlock).
public sealed unsafe partial class InterpreterCpu
{

    /// <summary>EFER.LMA: IA-32e mode is active (paging on with EFER.LME and CR4.PAE).</summary>
    private bool Lma => (_efer & EferLma) != 0;
    /// <summary>EFER.NXE: bit 63 of paging entries is execute-disable.</summary>
    private bool _noExecute;
    /// <summary>Bits 32-63 of the FS, GS and TSS bases (the low halves live in the segment cache).</summary>
    private uint _fsBaseHigh, _gsBaseHigh, _trBaseHigh;
    private ulong _kernelGsBase;

    private ulong FsGsBase(int seg) =>
        ((ulong)(seg == SegFs ? _fsBaseHigh : _gsBaseHigh) << 32) | _segs[seg].Base;

    /// <summary>The TSS base: 64 bits when LTR loaded a 16-byte descriptor in IA-32e mode.</summary>
    private ulong TssBase => ((ulong)_trBaseHigh << 32) | _tr.Base;

    private void SetFsGsBase(int seg, ulong value)
    {
        _segs[seg].Base = (uint)value;
        if (seg == SegFs) _fsBaseHigh = (uint)(value >> 32);
        else _gsBaseHigh = (uint)(value >> 32);
    }

    private static bool Canonical(ulong address) => (ulong)((long)(address << 16) >> 16) == address;

    private void PrepareMemory64(ref DecodedOp d, in Instruction i)
    {
        bool ripRelative = i.IsIPRelativeMemoryOperand;
        d.Base = ripRelative ? (byte)RegNone : RegNumbers[(int)i.MemoryBase];
        d.Index = RegNumbers[(int)i.MemoryIndex];
        d.Scale = (byte)System.Numerics.BitOperations.Log2((uint)Math.Max(1, i.MemoryIndexScale));
        // Iced gives RIP-relative operands as the absolute address and other displacements sign-extended.
        d.Disp = ripRelative ? i.IPRelativeMemoryAddress : i.MemoryDisplacement64;
        d.Addr32 = i.MemoryBase.IsGPR32() || i.MemoryIndex.IsGPR32() || i.MemoryBase == Iced.Intel.Register.EIP;
        d.Seg = (byte)RegNumbers[(int)i.MemorySegment];
    }

    /// <summary>The 64-bit effective address of the memory operand (no segment base).</summary>
    private ulong EffectiveAddress64(ref DecodedOp d)
    {
        ulong ea = _gpr[d.Base] + (_gpr[d.Index] << d.Scale) + d.Disp;
        return d.Addr32 ? (uint)ea : ea;
    }

    /// <summary>The linear address of a 64-bit-mode memory operand: only FS and GS add a base; #GP(0) (#SS(0) for SS) when not canonical.</summary>
    private ulong Linear64(ref DecodedOp d, int size)
    {
        ulong ea = EffectiveAddress64(ref d);
        if (d.Seg is SegFs or SegGs) ea += FsGsBase(d.Seg);
        CheckCanonical(ea, size, d.Seg);
        return ea;
    }

    private static void CheckCanonical(ulong linear, int size, int seg)
    {
        if (!Canonical(linear) || !Canonical(linear + (ulong)size - 1))
            throw new CpuFault(seg == SegSs ? Vector.StackFault : Vector.GeneralProtection, 0);
    }

    private ulong ReadLinear64(ulong linear) => ReadLinear(linear, 4) | ((ulong)ReadLinear(linear + 4, 4) << 32);

    /// <summary>A quadword store; both pages are checked writable before either half is written.</summary>
    private void WriteLinear64(ulong linear, ulong value)
    {
        if (_paging && (linear & 0xFFF) > 0xFF8) Translate(linear + 7, write: true);
        WriteLinear(linear, 4, (uint)value);
        WriteLinear(linear + 4, 4, (uint)(value >> 32));
    }

    /// <summary>A branch target in 64-bit mode: #GP(0) when not canonical.</summary>
    private static ulong CheckRip(ulong target) =>
        Canonical(target) ? target : throw new CpuFault(Vector.GeneralProtection, 0);

    private static OpcodeRow[] LongModeOps() =>
    [
        ..Ops(JccMnemonics, &Jcc64, CpuModes.Long64), Op(Mnemonic.Jmp, &Jmp64, CpuModes.Long64),
        Op(Mnemonic.Call, &Call64, CpuModes.Long64), Op(Mnemonic.Ret, &Ret64, CpuModes.Long64),
        Op(Mnemonic.Retf, &Retf64, CpuModes.Long64), Op(Mnemonic.Loop, &Loop64, CpuModes.Long64),
        Op(Mnemonic.Jrcxz, &Jrcxz, CpuModes.Long64), Op(Mnemonic.Push, &Push64, CpuModes.Long64),
        Op(Mnemonic.Pop, &Pop64, CpuModes.Long64), Op(Mnemonic.Pushfq, &Pushfq, CpuModes.Long64),
        Op(Mnemonic.Popfq, &Popfq, CpuModes.Long64), Op(Mnemonic.Lea, &Lea64, CpuModes.Long64),
        Op(Mnemonic.Leave, &Leave64, CpuModes.Long64), Op(Mnemonic.Lgdt, &LoadTableRegister64, CpuModes.Long64),
        Op(Mnemonic.Lidt, &LoadTableRegister64, CpuModes.Long64),
        Op(Mnemonic.Sgdt, &StoreTableRegister64, CpuModes.Long64),
        Op(Mnemonic.Sidt, &StoreTableRegister64, CpuModes.Long64), Op(Mnemonic.Swapgs, &Swapgs, CpuModes.Long64),
    ];

    private static void Jcc64(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.Condition(d.Cond)) c._eip = CheckRip(d.Disp);
    }

    private static void Loop64(InterpreterCpu c, ref DecodedOp d)
    {
        if (d.I.Code != Code.Loop_rel8_64_RCX) throw new UnimplementedInstruction($"{d.I} with a 32-bit count in 64-bit mode");
        ulong count = c._gpr[RegEcx] - 1;
        c._gpr[RegEcx] = count;
        if (count != 0) c._eip = CheckRip(d.Disp);
    }

    private static void Jrcxz(InterpreterCpu c, ref DecodedOp d)
    {
        if (c._gpr[RegEcx] == 0) c._eip = CheckRip(d.Disp);
    }

    /// <summary>The near branch target of an indirect JMP/CALL: a 64-bit register or memory operand.</summary>
    private ulong IndirectTarget64(ref DecodedOp d)
    {
        if (d.I.IsJmpFarIndirect || d.I.IsCallFarIndirect)
            throw new UnimplementedInstruction($"far indirect branch in 64-bit mode: {d.I}");
        return CheckRip(ReadOp64(ref d, 0));
    }

    private static void Jmp64(InterpreterCpu c, ref DecodedOp d) =>
        c._eip = d.I.Op0Kind == OpKind.NearBranch64 ? CheckRip(d.Disp) : c.IndirectTarget64(ref d);

    private static void Call64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong target = d.I.Op0Kind == OpKind.NearBranch64 ? CheckRip(d.Disp) : c.IndirectTarget64(ref d);
        c.PushStack64(c._eip, 8);
        c._eip = target;
    }

    private static void Ret64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong target = CheckRip(c.PeekStack64(0, 8));
        c._gpr[RegEsp] += 8 + (d.I.OpCount > 0 ? d.Imm & 0xFFFF : 0);
        c._eip = target;
    }

    /// <summary>
    /// RETF in 64-bit mode (RETFQ with REX.W, else 32-bit slots): to 64-bit or compatibility code at the same
    /// privilege, or outwards, where RSP and SS are popped too.
    /// </summary>
    private static void Retf64(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize == 8 ? 8 : d.OpSize == 4 ? 4 : throw new UnimplementedInstruction($"{d.I} in 64-bit mode");
        ulong release = d.I.OpCount > 0 ? d.Imm & 0xFFFF : 0;
        ulong offset = c.PeekStack64(0, size);
        ushort selector = (ushort)c.PeekStack64((ulong)size, size);
        int rpl = selector & 3, cpl = c.Cpl;
        if (rpl < cpl) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        var desc = c.LoadCodeDescriptor(selector, (uint)offset, rpl);
        desc.Selector = selector;
        ulong target = desc.Long ? CheckRip(offset) : (uint)offset;
        ulong rsp = c._gpr[RegEsp] + 2 * (ulong)size + release;
        Segment ss = c._segs[SegSs];
        if (rpl != cpl)
        {
            ulong outerRsp = c.PeekStack64(2 * (ulong)size + release, size);
            ushort ssSelector = (ushort)c.PeekStack64(3 * (ulong)size + release, size);
            ss = c.CheckStackSegment(ssSelector, rpl, Vector.GeneralProtection);
            rsp = outerRsp + release;
        }
        c._segs[SegCs] = desc;
        c._segs[SegSs] = ss;
        c._eip = target;
        c._gpr[RegEsp] = rsp;
        c.ModeChanged();
        if (rpl != cpl) c.NullSegmentsAbove(rpl);
    }

    /// <summary>Pushes 8 or 2 bytes at RSP (SS's base and limit do not apply); #SS(0) when RSP is not canonical.</summary>
    private void PushStack64(ulong value, int size)
    {
        ulong rsp = _gpr[RegEsp] - (ulong)size;
        CheckCanonical(rsp, size, SegSs);
        if (size == 8) WriteLinear64(rsp, value);
        else WriteLinear(rsp, size, (uint)value);
        _gpr[RegEsp] = rsp;
    }

    private ulong PeekStack64(ulong offset, int size)
    {
        ulong at = _gpr[RegEsp] + offset;
        CheckCanonical(at, size, SegSs);
        return size == 8 ? ReadLinear64(at) : ReadLinear(at, size);
    }

    private static void Push64(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize == 2 ? 2 : 8;
        ulong v = d.Loc0 == OperandLoc.Other && d.I.Op0Kind == OpKind.Register
            ? c.ReadReg(d.I.Op0Register) // FS or GS
            : size == 8 ? c.ReadOp64(ref d, 0) : c.ReadOp(ref d, 0);
        c.PushStack64(v, size);
    }

    private static void Pop64(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize == 2 ? 2 : 8;
        ulong v = c.PeekStack64(0, size);
        ulong oldRsp = c._gpr[RegEsp];
        c._gpr[RegEsp] = oldRsp + (ulong)size; // POP [RSP+x] addresses with RSP already incremented
        try
        {
            if (d.Loc0 == OperandLoc.Gpr64) c._gpr[d.Reg0] = v;
            else if (size == 8) c.WriteOp64(ref d, v);
            else c.WriteOp0(ref d, (uint)v); // 16-bit register, memory, or FS/GS
        }
        catch (CpuFault)
        {
            c._gpr[RegEsp] = oldRsp;
            throw;
        }
    }

    private static void Pushfq(InterpreterCpu c, ref DecodedOp d) => c.PushStack64(c.Eflags & 0x00FC_FFFF, 8); // VM and RF read as 0

    private static void Popfq(InterpreterCpu c, ref DecodedOp d)
    {
        ulong v = c.PeekStack64(0, 8);
        c.WriteFlagsChecked((uint)v, 0xFFFF_FFFF);
        c._gpr[RegEsp] += 8;
        c._breakBlock = true;
    }

    /// <summary>LEAVE: RSP = RBP, then RBP (or BP with an operand-size prefix) is popped.</summary>
    private static void Leave64(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize == 2 ? 2 : 8;
        ulong rbp = c._gpr[RegEbp];
        CheckCanonical(rbp, size, SegSs);
        ulong v = size == 8 ? c.ReadLinear64(rbp) : c.ReadLinear(rbp, 2);
        c._gpr[RegEsp] = rbp + (ulong)size;
        if (size == 8) c._gpr[RegEbp] = v;
        else c.WriteGpr(RegEbp, 2, (uint)v);
    }

    private static void Lea64(InterpreterCpu c, ref DecodedOp d)
    {
        ulong ea = c.EffectiveAddress64(ref d);
        switch (d.OpSize)
        {
            case 8: c._gpr[d.Reg0] = ea; break;
            case 4: c._gpr[d.Reg0] = (uint)ea; break;
            default: c.WriteGpr(d.Reg0, 2, (uint)ea); break;
        }
    }

    /// <summary>LGDT/LIDT in 64-bit mode: a 2-byte limit and an 8-byte base. The GDT must lie below 4 GiB here.</summary>
    private static void LoadTableRegister64(InterpreterCpu c, ref DecodedOp d)
    {
        c.RequireCpl0();
        ulong at = c.Linear64(ref d, 10);
        uint limit = c.ReadLinear(at, 2);
        ulong b = c.ReadLinear64(at + 2);
        if (!Canonical(b)) throw new CpuFault(Vector.GeneralProtection, 0);
        bool gdt = d.I.Mnemonic == Mnemonic.Lgdt;
        var t = new Pc.DescriptorTableState { Base = b, Limit = (ushort)limit };
        if (gdt) c._gdtr = t; else c._idtr = t;
    }

    private static void StoreTableRegister64(InterpreterCpu c, ref DecodedOp d)
    {
        var t = d.I.Mnemonic == Mnemonic.Sgdt ? c._gdtr : c._idtr;
        ulong at = c.Linear64(ref d, 10);
        if (c._paging) c.Translate(at + 9, write: true);
        c.WriteLinear(at, 2, t.Limit);
        c.WriteLinear64(at + 2, t.Base);
    }

    /// <summary>SWAPGS: exchanges the GS base with IA32_KERNEL_GS_BASE (CPL 0 only).</summary>
    private static void Swapgs(InterpreterCpu c, ref DecodedOp d)
    {
        if (c.Cpl != 0) throw new CpuFault(Vector.GeneralProtection, 0);
        ulong gs = c.FsGsBase(SegGs);
        c.SetFsGsBase(SegGs, c._kernelGsBase);
        c._kernelGsBase = gs;
    }

    private ulong ReadLongModeMsr(uint index) => IsSyscallMsr(index) ? ReadSyscallMsr(index) : index switch
    {
        MsrEfer => _efer,
        MsrFsBase => FsGsBase(SegFs),
        MsrGsBase => FsGsBase(SegGs),
        _ => _kernelGsBase,
    };

    private void WriteLongModeMsr(uint index, ulong value)
    {
        if (IsSyscallMsr(index))
        {
            WriteSyscallMsr(index, value);
            return;
        }
        if (index == MsrEfer)
        {
            if ((value & ~(EferSce | EferLme | EferLma | EferNxe)) != 0) throw new CpuFault(Vector.GeneralProtection, 0);
            // LME cannot change while paging is on; LMA is the CPU's to set.
            if (_paging && ((value ^ _efer) & EferLme) != 0) throw new CpuFault(Vector.GeneralProtection, 0);
            _efer = (value & ~EferLma) | (_efer & EferLma);
            _noExecute = (_efer & EferNxe) != 0;
            FlushTlb();
            return;
        }
        if (!Canonical(value)) throw new CpuFault(Vector.GeneralProtection, 0);
        switch (index)
        {
            case MsrFsBase: SetFsGsBase(SegFs, value); break;
            case MsrGsBase: SetFsGsBase(SegGs, value); break;
            default: _kernelGsBase = value; break;
        }
    }

    private static bool IsLongModeMsr(uint index) =>
        index is MsrEfer or MsrFsBase or MsrGsBase or MsrKernelGsBase || IsSyscallMsr(index);

    /// <summary>
    /// CR0.PG with EFER.LME turns IA-32e mode on (CR4.PAE required, else #GP(0)); clearing PG turns it off, which
    /// 64-bit code may not do. PAE paging outside IA-32e mode is not implemented.
    /// </summary>
    private void UpdateLongModeActive(uint newCr0)
    {
        bool wasPaging = (_cr0 & 0x8000_0000) != 0, paging = (newCr0 & 0x8000_0000) != 0;
        if (paging && !wasPaging && (_efer & EferLme) != 0)
        {
            if ((_cr4 & Cr4Pae) == 0) throw new CpuFault(Vector.GeneralProtection, 0);
            _efer |= EferLma;
        }
        else if (!paging && wasPaging && Lma)
        {
            if (_mode64) throw new CpuFault(Vector.GeneralProtection, 0);
            _efer &= ~EferLma;
        }
        if (paging && (_cr4 & Cr4Pae) != 0 && !Lma) throw new UnimplementedInstruction("PAE paging outside IA-32e mode");
    }
}
