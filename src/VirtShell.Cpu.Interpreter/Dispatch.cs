using System.Runtime.CompilerServices;
using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// Decode-time preparation of a DecodedOp and the operand accessors every handler shares.
//
// The handlers of the common instruction groups and the helpers they call are compiled optimized at once
// (AggressiveOptimization) rather than left to tiered compilation: inside pwsh, whose own script compilation keeps
// the JIT busy, they stayed at tier 0 for many seconds, running guests at a tenth of the speed.
public sealed unsafe partial class InterpreterCpu
{
    /// <summary>Linear address of the memory destination operand, computed once by ReadDst for WriteDst.</summary>
    private ulong _dstLinear;

    private void Prepare(ref DecodedOp d, in Instruction i, ulong ipMask, ReadOnlySpan<byte> bytes)
    {
        d.I = i;
        d.NextIp = i.NextIP & ipMask;
        bool mode64 = _mode64, unknownRegister = false;
        d.Cond = i.ConditionCode;
        d.Base = d.Index = RegNone;
        d.AddrMask = _code32 ? 0xFFFF_FFFFu : 0xFFFF;
        bool x87 = IsX87Escape(bytes, mode64);
        if (i.Code == Code.INVALID && !x87)
        {
            d.Handler = &InvalidOpcode;
            return;
        }
        var info = i.Code.ToOpCode();
        d.Handler = Dispatch(in i, CpuModes.Legacy);
        if (d.Handler == null) d.Handler = &Unimplemented;

        int opSize = info.OperandSize / 8;
        int memSize = 0;
        for (int n = 0; n < i.OpCount; n++)
        {
            var kind = i.GetOpKind(n);
            switch (kind)
            {
                case OpKind.Register:
                    if (opSize == 0 && n == 0) opSize = i.GetOpRegister(0).GetSize();
                    break;
                case OpKind.Memory:
                    memSize = i.MemorySize.GetSize();
                    if (opSize == 0 && n == 0) opSize = memSize;
                    d.Seg = (byte)RegNumbers[(int)i.MemorySegment];
                    d.Base = RegNumbers[(int)i.MemoryBase];
                    d.Index = RegNumbers[(int)i.MemoryIndex];
                    d.Scale = (byte)System.Numerics.BitOperations.Log2((uint)Math.Max(1, i.MemoryIndexScale));
                    d.Disp = i.MemoryDisplacement32;
                    if (mode64)
                    {
                        PrepareMemory64(ref d, i);
                        break;
                    }
                    bool wide = i.MemoryBase.IsGPR32() || i.MemoryIndex.IsGPR32() ||
                                (i.MemoryBase == Iced.Intel.Register.None && i.MemoryIndex == Iced.Intel.Register.None && i.MemoryDisplSize == 4);
                    d.AddrMask = wide ? 0xFFFF_FFFFu : 0xFFFF;
                    if (i.Mnemonic == Mnemonic.Xlatb) d.Index = RegNone;
                    break;
                case OpKind.MemorySegSI or OpKind.MemorySegESI or OpKind.MemorySegDI or OpKind.MemorySegEDI
                    or OpKind.MemoryESDI or OpKind.MemoryESEDI or OpKind.MemorySegRSI or OpKind.MemoryESRDI:
                    memSize = i.MemorySize.GetSize();
                    if (opSize == 0) opSize = memSize;
                    if (kind is OpKind.MemorySegSI or OpKind.MemorySegESI or OpKind.MemorySegDI or OpKind.MemorySegEDI or OpKind.MemorySegRSI)
                        d.Seg = (byte)RegNumbers[(int)i.MemorySegment];
                    d.AddrMask = kind is OpKind.MemorySegESI or OpKind.MemorySegEDI or OpKind.MemoryESEDI ? 0xFFFF_FFFFu : 0xFFFF;
                    break;
                case OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64:
                    d.Imm = (uint)i.NearBranchTarget;
                    d.Disp = i.NearBranchTarget;
                    break;
                case OpKind.FarBranch16 or OpKind.FarBranch32:
                    d.Imm = kind == OpKind.FarBranch16 ? i.FarBranch16 : i.FarBranch32;
                    d.Imm2 = i.FarBranchSelector;
                    break;
                case OpKind.Immediate64:
                    d.Disp = i.Immediate64;
                    break;
                case OpKind.Immediate8 or OpKind.Immediate8_2nd or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate8to16 or OpKind.Immediate8to32
                    or OpKind.Immediate8to64 or OpKind.Immediate32to64:
                    if (n > 0 && i.GetOpKind(n - 1) is OpKind.Immediate8 or OpKind.Immediate16) d.Imm2 = (uint)i.GetImmediate(n);
                    else d.Imm = (uint)i.GetImmediate(n);
                    break;
            }
        }
        if (info.AddressSize != 0 && i.OpCount > 0 && i.GetOpKind(0) is OpKind.NearBranch16 or OpKind.NearBranch32)
            d.AddrMask = info.AddressSize == 32 ? 0xFFFF_FFFFu : 0xFFFF; // LOOP/JCXZ count register size
        if (x87)
        {
            // Iced rejects some escape encodings a CPU without coprocessor still skips: take the length from ModR/M.
            d.NextIp = (i.IP + (uint)X87Length(bytes, _code32, mode64)) & ipMask;
            if (!_fpuPresent) d.Handler = &NoCoprocessor;
            else if (i.Code == Code.INVALID) d.Handler = &X87Reserved;
            else d.Imm = X87Opcode(bytes); // FOP for FSTENV/FSAVE/FXSAVE; no x87 instruction has an immediate
        }
        else if (!_fpuPresent && i.Mnemonic == Mnemonic.Wait) d.Handler = &NoCoprocessor;
        else if (!_fpuPresent && i.Mnemonic is Mnemonic.Fxsave or Mnemonic.Fxrstor) d.Handler = &InvalidOpcode; // no FXSR without an FPU
        // Registers this CPU does not have (debug, test, MMX, SSE...): report the instruction rather than guess.
        for (int n = 0; n < i.OpCount; n++)
            if (i.GetOpKind(n) == OpKind.Register && RegKinds[(int)i.GetOpRegister(n)] == RegKind.Other && !x87)
                unknownRegister = true;
        if (unknownRegister) d.Handler = &Unimplemented;
        // VEX/EVEX/XOP do not exist in real mode: C4/C5 there are LES/LDS, and with a register operand #UD.
        if (i.Encoding != EncodingKind.Legacy && !ProtectedMode) d.Handler = &InvalidOpcode;
        if (opSize == 0) opSize = _code32 || mode64 ? 4 : 2;
        if (i.OpCount > 0) (d.Loc0, d.Reg0) = Locate(i, 0);
        if (i.OpCount > 1) (d.Loc1, d.Reg1) = Locate(i, 1);
        // x87 register operands: Reg0/Reg1 hold the i of ST(i).
        if (x87)
            for (int n = 0; n < Math.Min((int)i.OpCount, 2); n++)
                if (i.GetOpKind(n) == OpKind.Register && i.GetOpRegister(n).IsST())
                {
                    byte st = (byte)(i.GetOpRegister(n) - Iced.Intel.Register.ST0);
                    if (n == 0) d.Reg0 = st;
                    else d.Reg1 = st;
                }
        d.OpSize = (byte)opSize;
        d.MemSize = (byte)(memSize == 0 ? opSize : memSize);
        // x87 handlers take their memory operands through FpuOperand, which computes 64-bit addresses there.
        if (mode64 && !x87)
        {
            d.Handler = unknownRegister ? null : Dispatch(in i, opSize == 8 ? CpuModes.LongWide : CpuModes.Long);
            if (d.Handler == null) d.Handler = &Unimplemented;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint EffectiveAddress(ref DecodedOp d) =>
        ((uint)_gpr[d.Base] + ((uint)_gpr[d.Index] << d.Scale) + (uint)d.Disp) & d.AddrMask;

    private static (OperandLoc, byte) Locate(in Instruction i, int n)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register:
                var r = i.GetOpRegister(n);
                var loc = RegKinds[(int)r] switch
                {
                    RegKind.Low8 => OperandLoc.Gpr8Lo,
                    RegKind.High8 => OperandLoc.Gpr8Hi,
                    RegKind.Word => OperandLoc.Gpr16,
                    RegKind.Dword => OperandLoc.Gpr32,
                    RegKind.Qword => OperandLoc.Gpr64,
                    _ => OperandLoc.Other,
                };
                return (loc, RegNumbers[(int)r]);
            case OpKind.Memory:
                return (i.CodeSize == CodeSize.Code64 ? OperandLoc.Other : OperandLoc.Memory, 0);
            case OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate8to16 or OpKind.Immediate8to32
                or OpKind.Immediate8to64 or OpKind.Immediate32to64:
                return (OperandLoc.Immediate, 0);
            case OpKind.Immediate64:
                return (OperandLoc.Immediate64, 0);
            default:
                return (OperandLoc.Other, 0);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint ReadGprAt(OperandLoc loc, int r) => loc switch
    {
        OperandLoc.Gpr16 => (uint)_gpr[r] & 0xFFFF,
        OperandLoc.Gpr32 => (uint)_gpr[r],
        OperandLoc.Gpr8Lo => (uint)_gpr[r] & 0xFF,
        _ => ((uint)_gpr[r] >> 8) & 0xFF,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteGprAt(OperandLoc loc, int r, uint v)
    {
        switch (loc)
        {
            case OperandLoc.Gpr16: _gpr[r] = (_gpr[r] & ~0xFFFFUL) | (v & 0xFFFF); break;
            case OperandLoc.Gpr32: _gpr[r] = v; break;
            case OperandLoc.Gpr8Lo: _gpr[r] = (_gpr[r] & ~0xFFUL) | (v & 0xFF); break;
            default: _gpr[r] = (_gpr[r] & ~0xFF00UL) | ((v & 0xFF) << 8); break;
        }
    }

    /// <summary>Reads operand <paramref name="n"/> (register, memory or immediate); the common cases are inlined.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint ReadOp(ref DecodedOp d, int n)
    {
        var loc = n == 0 ? d.Loc0 : n == 1 ? d.Loc1 : OperandLoc.Other;
        if (loc == OperandLoc.Immediate) return d.Imm;
        if (loc is >= OperandLoc.Gpr8Lo and <= OperandLoc.Gpr32) return ReadGprAt(loc, n == 0 ? d.Reg0 : d.Reg1);
        return ReadOpSlow(ref d, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint ReadOpSlow(ref DecodedOp d, int n)
    {
        var loc = n == 0 ? d.Loc0 : n == 1 ? d.Loc1 : OperandLoc.Other;
        switch (loc)
        {
            case OperandLoc.Gpr8Lo or OperandLoc.Gpr8Hi or OperandLoc.Gpr16 or OperandLoc.Gpr32:
                return ReadGprAt(loc, n == 0 ? d.Reg0 : d.Reg1);
            case OperandLoc.Memory:
                return ReadMem(d.Seg, EffectiveAddress(ref d), d.MemSize);
            case OperandLoc.Immediate:
                return d.Imm;
            default:
                return d.I.GetOpKind(n) switch
                {
                    OpKind.Register => ReadReg(d.I.GetOpRegister(n)),
                    OpKind.Memory when _mode64 => ReadLinear(Linear64(ref d, d.MemSize), d.MemSize),
                    OpKind.Memory => ReadMem(d.Seg, EffectiveAddress(ref d), d.MemSize),
                    _ => d.Imm,
                };
        }
    }

    /// <summary>Reads the destination operand of a read-modify-write instruction, remembering where to write back.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint ReadDst(ref DecodedOp d)
    {
        var loc = d.Loc0;
        if (loc == OperandLoc.Memory)
        {
            _dstLinear = LinearWrite(d.Seg, EffectiveAddress(ref d), d.MemSize);
            return ReadLinear(_dstLinear, d.MemSize);
        }
        return loc == OperandLoc.Other ? ReadOtherDst(ref d) : ReadGprAt(loc, d.Reg0);
    }

    /// <summary>A destination that is not a general register: a 64-bit-mode memory operand, or a segment/control register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint ReadOtherDst(ref DecodedOp d)
    {
        if (d.I.Op0Kind != OpKind.Memory) return ReadReg(d.I.Op0Register);
        _dstLinear = Linear64(ref d, d.MemSize);
        return ReadLinear(_dstLinear, d.MemSize);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteOther(ref DecodedOp d, uint value, bool computed)
    {
        if (d.I.Op0Kind != OpKind.Memory) WriteReg(d.I.Op0Register, value);
        else WriteLinear(computed ? _dstLinear : Linear64(ref d, d.MemSize), d.MemSize, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteDst(ref DecodedOp d, uint value)
    {
        var loc = d.Loc0;
        if (loc == OperandLoc.Memory) WriteLinear(_dstLinear, d.MemSize, value);
        else if (loc == OperandLoc.Other) WriteOther(ref d, value, computed: true);
        else WriteGprAt(loc, d.Reg0, value);
    }

    /// <summary>Writes operand 0 without a prior read (MOV, SETcc, POP).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteOp0(ref DecodedOp d, uint value)
    {
        var loc = d.Loc0;
        if (loc == OperandLoc.Memory) WriteMem(d.Seg, EffectiveAddress(ref d), d.MemSize, value);
        else if (loc == OperandLoc.Other) WriteOther(ref d, value, computed: false);
        else WriteGprAt(loc, d.Reg0, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InvalidOpcode(InterpreterCpu c, ref DecodedOp d) => throw new CpuFault(Vector.InvalidOpcode);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Unimplemented(InterpreterCpu c, ref DecodedOp d)
    {
        var bytes = new byte[d.I.Length];
        for (int k = 0; k < bytes.Length; k++)
            bytes[k] = c.FetchByte(c._mode64 ? c._instrStart + (uint)k : (uint)(c._segs[SegCs].Base + ((c._instrStart + (uint)k) & (c._codeMode == Code16 ? 0xFFFF : 0xFFFF_FFFFu))), out _);
        throw new UnimplementedInstruction(
            $"instruction not implemented: {d.I} (bytes {Convert.ToHexString(bytes)}) at {c._segs[SegCs].Selector:x4}:{c._instrStart:x8}");
    }

    /// <summary>
    /// x87 escapes and WAIT on a CPU without FPU (<see cref="FpuPresent"/> false): #NM when CR0.EM/TS ask for emulation,
    /// otherwise no effect, which is how FPU-detection code (FNINIT/FNSTSW) finds that there is none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NoCoprocessor(InterpreterCpu c, ref DecodedOp d)
    {
        bool trap = d.I.Mnemonic == Mnemonic.Wait ? (c._cr0 & 0xA) == 0xA : (c._cr0 & 0xC) != 0; // MP+TS for WAIT, EM or TS for escapes
        if (trap) throw new CpuFault(Vector.DeviceNotAvailable);
        // The CPU still runs the memory cycle of an escape with a memory operand, with its limit check.
        if (d.Loc0 == OperandLoc.Memory || d.Loc1 == OperandLoc.Memory)
            c.Linear(d.Seg, c.EffectiveAddress(ref d), Math.Min((int)d.MemSize, 4));
    }

    /// <summary>D8-DF after any prefixes: an x87 escape, whatever Iced makes of the rest of the encoding.</summary>
    private static bool IsX87Escape(ReadOnlySpan<byte> bytes, bool mode64)
    {
        foreach (byte b in bytes)
        {
            if (b is 0x26 or 0x2E or 0x36 or 0x3E or 0x64 or 0x65 or 0x66 or 0x67 or 0xF2 or 0xF3) continue;
            if (mode64 && b is >= 0x40 and <= 0x4F) continue; // REX
            return b is >= 0xD8 and <= 0xDF;
        }
        return false;
    }

    /// <summary>The x87 opcode register's 11 bits: the escape's low three bits and the ModR/M byte.</summary>
    private static ushort X87Opcode(ReadOnlySpan<byte> bytes)
    {
        int n = 0;
        while (bytes[n] is < 0xD8 or > 0xDF) n++;
        return (ushort)(((bytes[n] & 7) << 8) | (n + 1 < bytes.Length ? bytes[n + 1] : 0));
    }

    /// <summary>
    /// Length of an x87 escape: prefixes (and REX in 64-bit mode, whose addressing has 32-bit ModR/M lengths whatever
    /// 67h says), the opcode, ModR/M and its SIB/displacement.
    /// </summary>
    private static int X87Length(ReadOnlySpan<byte> bytes, bool code32, bool mode64)
    {
        int n = 0;
        bool addr32 = code32;
        while (bytes[n] is 0x26 or 0x2E or 0x36 or 0x3E or 0x64 or 0x65 or 0x66 or 0x67 or 0xF0 or 0xF2 or 0xF3 ||
               (mode64 && bytes[n] is >= 0x40 and <= 0x4F))
            if (bytes[n++] == 0x67) addr32 = !addr32;
        addr32 |= mode64;
        n++; // the escape opcode
        if (n >= bytes.Length) return bytes.Length;
        int modrm = bytes[n++], mod = modrm >> 6, rm = modrm & 7;
        if (mod == 3) return n;
        if (!addr32) return n + (mod == 1 ? 1 : mod == 2 || (mod == 0 && rm == 6) ? 2 : 0);
        if (rm == 4)
        {
            if (n >= bytes.Length) return n;
            int sib = bytes[n++];
            if (mod == 0 && (sib & 7) == 5) return n + 4;
        }
        return n + (mod == 1 ? 1 : mod == 2 || (mod == 0 && rm == 5) ? 4 : 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Nop(InterpreterCpu c, ref DecodedOp d) { }

    private static OpcodeRow[] HintAndInvalidOps() =>
    [
        Op(Mnemonic.Nop, &Nop, CpuModes.LegacyAndLong), Op(Mnemonic.Ud0, &InvalidOpcode, CpuModes.LegacyAndLong),
        Op(Mnemonic.Ud1, &InvalidOpcode, CpuModes.LegacyAndLong),
        Op(Mnemonic.Ud2, &InvalidOpcode, CpuModes.LegacyAndLong),
        // CPUID reports neither VMX nor SVM, so the hypercall instructions are #UD, as on a CPU outside a VM (kvm-unit-tests' vmexit and hypercall take it).
        Op(Mnemonic.Vmcall, &InvalidOpcode), Op(Mnemonic.Vmmcall, &InvalidOpcode),
        // PAUSE is REP NOP on CPUs before the Pentium 4; the P6 family this CPU reports runs the 0F 19-1E hint space
        // (and 0F 1F, Iced's Nop) as multi-byte NOPs.
        Op(Mnemonic.Pause, &Nop, CpuModes.LegacyAndLong), Op(Mnemonic.Reservednop, &Nop, CpuModes.LegacyAndLong),
        // F3 0F 1E FA/FB: hint NOPs without CET
        Op(Mnemonic.Endbr32, &Nop), Op(Mnemonic.Endbr64, &Nop, CpuModes.LegacyAndLong),
    ];
}
