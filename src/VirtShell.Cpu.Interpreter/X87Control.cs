using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// The x87 FPU's gatekeeping (CR0.EM/TS, pending exceptions, last-instruction pointers), its memory access helpers and
// the control instructions: FNINIT FNCLEX FNSTSW FNSTCW FLDCW FNSTENV FLDENV FNSAVE FRSTOR FXSAVE FXRSTOR FWAIT FFREE
// FFREEP FINCSTP FDECSTP FXCH FNOP, and the 287 leftovers FNENI FNDISI FNSETPM that a 387 ignores.
public sealed unsafe partial class InterpreterCpu
{

    private readonly X87State _fpu = new();
    private bool _fpuPresent = true;

    /// <summary>
    /// Whether the CPU has its x87 FPU (the default). Without one, escapes and WAIT only raise #NM when CR0 asks for it,
    /// like an 8086 or 80286 with an empty coprocessor socket, and CPUID reports no FPU and no FXSR.
    /// </summary>
    public bool FpuPresent
    {
        get => _fpuPresent;
        set
        {
            if (value == _fpuPresent) return;
            _fpuPresent = value;
            _fpu.Reset();
            FlushCodeCache(); // the choice is made when an instruction is decoded
        }
    }

    /// <summary>The CPUID.1:EDX bits the FPU contributes: FPU (bit 0) and FXSR (bit 24).</summary>
    private uint X87CpuidFeatures => _fpuPresent ? 0x0100_0001u : 0;

    private static OpcodeRow[] X87ControlOps() =>
    [
        Op(Mnemonic.Fninit, &Fninit, CpuModes.All), Op(Mnemonic.Fnclex, &Fnclex, CpuModes.All),
        Op(Mnemonic.Fnstsw, &Fnstsw, CpuModes.All), Op(Mnemonic.Fnstcw, &Fnstcw, CpuModes.All),
        Op(Mnemonic.Fldcw, &Fldcw, CpuModes.All), Op(Mnemonic.Fnstenv, &Fnstenv, CpuModes.All),
        Op(Mnemonic.Fldenv, &Fldenv, CpuModes.All), Op(Mnemonic.Fnsave, &Fnsave, CpuModes.All),
        Op(Mnemonic.Frstor, &Frstor, CpuModes.All), Op(Mnemonic.Fxsave, &Fxsave, CpuModes.LegacyAndLong),
        Op(Mnemonic.Fxrstor, &Fxrstor, CpuModes.LegacyAndLong), Op(Mnemonic.Fxsave64, &Fxsave, CpuModes.Long64),
        Op(Mnemonic.Fxrstor64, &Fxrstor, CpuModes.Long64), Op(Mnemonic.Wait, &Fwait, CpuModes.LegacyAndLong),
        Op(Mnemonic.Ffree, &Ffree, CpuModes.All), Op(Mnemonic.Ffreep, &Ffreep, CpuModes.All),
        Op(Mnemonic.Fincstp, &Fincstp, CpuModes.All), Op(Mnemonic.Fdecstp, &Fdecstp, CpuModes.All),
        Op(Mnemonic.Fxch, &Fxch, CpuModes.All), Op(Mnemonic.Fnop, &Fnop, CpuModes.All),
        ..Ops([Mnemonic.Fneni, Mnemonic.Fndisi, Mnemonic.Fnsetpm], &Fignored, CpuModes.All),
    ];

    /// <summary>
    /// The checks every x87 instruction starts with: #NM when CR0.EM or CR0.TS is set, then, for a waiting instruction,
    /// #MF for an unmasked exception an earlier instruction left pending. With CR0.NE clear a PC would signal that
    /// through FERR#/IRQ 13 instead; this CPU has no line for it, so the instruction simply proceeds.
    /// </summary>
    private X87State FpuCheck(bool waiting)
    {
        if ((_cr0 & (Cr0Em | Cr0Ts)) != 0) throw new CpuFault(Vector.DeviceNotAvailable);
        if (waiting && _fpu.ErrorPending && (_cr0 & Cr0Ne) != 0) throw new CpuFault(Vector.FloatingPointError);
        return _fpu;
    }

    /// <summary>FpuCheck for an arithmetic or transfer instruction, which also becomes the FPU's "last instruction".</summary>
    private X87State FpuEnter(ref DecodedOp d)
    {
        var f = FpuCheck(waiting: true);
        f.Fip = (uint)_instrStart;
        f.Fcs = _segs[SegCs].Selector;
        f.Fop = (ushort)d.Imm;
        if (IsX87Memory(ref d))
        {
            f.Fdp = _mode64 ? (uint)EffectiveAddress64(ref d) : EffectiveAddress(ref d);
            f.Fds = _segs[d.Seg].Selector;
        }
        return f;
    }

    /// <summary>
    /// The linear address of an x87 memory operand of <paramref name="size"/> bytes, with the segment limit and every
    /// page it touches checked up front, so that the accesses that follow cannot fault halfway through.
    /// </summary>
    private ulong FpuOperand(ref DecodedOp d, int size, bool write)
    {
        ulong linear = _mode64 ? Linear64(ref d, size)
            : write ? LinearWrite(d.Seg, EffectiveAddress(ref d), size) : Linear(d.Seg, EffectiveAddress(ref d), size);
        if (_paging)
        {
            Translate(linear, write);
            Translate(linear + (uint)size - 1, write);
        }
        return linear;
    }

    /// <summary>Whether an x87 instruction's operand is in memory (in 64-bit mode such operands are not <see cref="OperandLoc.Memory"/>).</summary>
    private static bool IsX87Memory(ref DecodedOp d) => d.Loc0 == OperandLoc.Memory || d.I.Op0Kind == OpKind.Memory;

    private Float80 ReadFloat80(ulong linear) => new(ReadLinear64(linear), (ushort)ReadLinear(linear + 8, 2));

    private void WriteFloat80(ulong linear, Float80 v)
    {
        WriteLinear64(linear, v.Significand);
        WriteLinear(linear + 8, 2, v.SignExponent);
    }

    /// <summary>Escape encodings no x87 defines: #NM if CR0 routes escapes to software, else #UD.</summary>
    private static void X87Reserved(InterpreterCpu c, ref DecodedOp d)
    {
        if ((c._cr0 & (Cr0Em | Cr0Ts)) != 0) throw new CpuFault(Vector.DeviceNotAvailable);
        throw new CpuFault(Vector.InvalidOpcode);
    }

    private static void Fninit(InterpreterCpu c, ref DecodedOp d) => c.FpuCheck(waiting: false).Reset();
    private static void Fnclex(InterpreterCpu c, ref DecodedOp d) => c.FpuCheck(waiting: false).ClearExceptions();
    private static void Fnstsw(InterpreterCpu c, ref DecodedOp d) => c.WriteOp0(ref d, c.FpuCheck(waiting: false).StatusWord);
    private static void Fnstcw(InterpreterCpu c, ref DecodedOp d) => c.WriteOp0(ref d, c.FpuCheck(waiting: false).Control);
    private static void Fldcw(InterpreterCpu c, ref DecodedOp d) => c.FpuCheck(waiting: true).LoadControlWord((ushort)c.ReadOp(ref d, 0));
    private static void Fignored(InterpreterCpu c, ref DecodedOp d) => c.FpuCheck(waiting: false);
    private static void Fnop(InterpreterCpu c, ref DecodedOp d) => c.FpuEnter(ref d);

    private static void Fwait(InterpreterCpu c, ref DecodedOp d)
    {
        if ((c._cr0 & (Cr0Mp | Cr0Ts)) == (Cr0Mp | Cr0Ts)) throw new CpuFault(Vector.DeviceNotAvailable);
        if (c._fpu.ErrorPending && (c._cr0 & Cr0Ne) != 0) throw new CpuFault(Vector.FloatingPointError);
    }

    // FFREE and FFREEP clear C1 on the hardware (the SDM calls C0-C3 undefined).
    private static void Ffree(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        f.SetC1(false);
        f.Free(d.Reg0);
    }

    private static void Ffreep(InterpreterCpu c, ref DecodedOp d)
    {
        Ffree(c, ref d);
        c._fpu.Pop();
    }

    private static void Fincstp(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        f.SetC1(false);
        f.Rotate(1);
    }

    private static void Fdecstp(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        f.SetC1(false);
        f.Rotate(-1);
    }

    private static void Fxch(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuEnter(ref d);
        int i = d.Reg1;
        f.SetC1(false);
        if (f.IsEmpty(0) || f.IsEmpty(i))
        {
            if (f.StackFault(overflow: false)) return;
            // Masked underflow: an empty side takes part as the real indefinite.
            if (f.IsEmpty(0)) f.Set(0, Float80.Indefinite);
            if (f.IsEmpty(i)) f.Set(i, Float80.Indefinite);
        }
        var st0 = f[0];
        f.Set(0, f[i]);
        f.Set(i, st0);
    }

    /// <summary>FSTENV/FSAVE use the real-mode layout (20-bit linear pointers) in real and virtual-8086 mode.</summary>
    private bool FpuRealFormat => !ProtectedMode || (_flagBits & 0x20000) != 0; // EFLAGS.VM

    /// <summary>Writes the 14-byte (16-bit operand size) or 28-byte environment: control, status, tag words and pointers.</summary>
    private void StoreFpuEnvironment(ulong at, bool wide)
    {
        var f = _fpu;
        uint ip = f.Fip, dp = f.Fdp;
        bool real = FpuRealFormat;
        if (real)
        {
            ip += (uint)f.Fcs << 4;
            dp += (uint)f.Fds << 4;
        }
        if (wide)
        {
            // The unused upper halves read as ones on real hardware.
            WriteLinear(at, 4, 0xFFFF_0000 | f.Control);
            WriteLinear(at + 4, 4, 0xFFFF_0000 | f.StatusWord);
            WriteLinear(at + 8, 4, 0xFFFF_0000 | f.TagWord);
            if (real)
            {
                WriteLinear(at + 12, 4, 0xFFFF_0000 | (ip & 0xFFFF));
                WriteLinear(at + 16, 4, ((ip >> 4) & 0x0FFF_F000) | f.Fop);
                WriteLinear(at + 20, 4, 0xFFFF_0000 | (dp & 0xFFFF));
                WriteLinear(at + 24, 4, (dp >> 4) & 0x0FFF_F000);
            }
            else
            {
                WriteLinear(at + 12, 4, ip);
                WriteLinear(at + 16, 4, f.Fcs | (uint)f.Fop << 16);
                WriteLinear(at + 20, 4, dp);
                WriteLinear(at + 24, 4, 0xFFFF_0000 | f.Fds);
            }
            return;
        }
        WriteLinear(at, 2, f.Control);
        WriteLinear(at + 2, 2, f.StatusWord);
        WriteLinear(at + 4, 2, f.TagWord);
        if (real)
        {
            WriteLinear(at + 6, 2, ip & 0xFFFF);
            WriteLinear(at + 8, 2, ((ip >> 4) & 0xF000) | f.Fop);
            WriteLinear(at + 10, 2, dp & 0xFFFF);
            WriteLinear(at + 12, 2, (dp >> 4) & 0xF000);
        }
        else
        {
            WriteLinear(at + 6, 2, ip & 0xFFFF);
            WriteLinear(at + 8, 2, f.Fcs);
            WriteLinear(at + 10, 2, dp & 0xFFFF);
            WriteLinear(at + 12, 2, f.Fds);
        }
    }

    private void LoadFpuEnvironment(ulong at, bool wide)
    {
        var f = _fpu;
        int step = wide ? 4 : 2;
        f.LoadControlWord((ushort)ReadLinear(at, 2));
        f.LoadStatusWord((ushort)ReadLinear(at + (uint)step, 2));
        f.LoadTagWord((ushort)ReadLinear(at + 2 * (uint)step, 2));
        uint ipLow = ReadLinear(at + 3 * (uint)step, step), ipHigh = ReadLinear(at + 4 * (uint)step, step);
        uint dpLow = ReadLinear(at + 5 * (uint)step, step), dpHigh = ReadLinear(at + 6 * (uint)step, step);
        if (FpuRealFormat)
        {
            f.Fip = (ipLow & 0xFFFF) | ((ipHigh & 0x0FFF_F000) << 4);
            f.Fdp = (dpLow & 0xFFFF) | ((dpHigh & 0x0FFF_F000) << 4);
            f.Fop = (ushort)(ipHigh & 0x7FF);
            f.Fcs = f.Fds = 0;
        }
        else if (wide)
        {
            f.Fip = ipLow;
            f.Fcs = (ushort)ipHigh;
            f.Fop = (ushort)((ipHigh >> 16) & 0x7FF);
            f.Fdp = dpLow;
            f.Fds = (ushort)dpHigh;
        }
        else
        {
            f.Fip = ipLow;
            f.Fcs = (ushort)ipHigh;
            f.Fdp = dpLow;
            f.Fds = (ushort)dpHigh;
        }
    }

    private static void Fnstenv(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuCheck(waiting: false);
        bool wide = d.I.Code == Code.Fnstenv_m28byte;
        c.StoreFpuEnvironment(c.FpuOperand(ref d, wide ? 28 : 14, write: true), wide);
        // FSTENV leaves every exception masked, so that a handler that saved the environment can use the FPU.
        f.LoadControlWord((ushort)(f.Control | 0x3F));
    }

    private static void Fldenv(InterpreterCpu c, ref DecodedOp d)
    {
        c.FpuCheck(waiting: true);
        bool wide = d.I.Code == Code.Fldenv_m28byte;
        c.LoadFpuEnvironment(c.FpuOperand(ref d, wide ? 28 : 14, write: false), wide);
    }

    private static void Fnsave(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuCheck(waiting: false);
        bool wide = d.I.Code == Code.Fnsave_m108byte;
        uint env = wide ? 28u : 14u;
        ulong at = c.FpuOperand(ref d, (int)env + 80, write: true);
        c.StoreFpuEnvironment(at, wide);
        for (int i = 0; i < 8; i++) c.WriteFloat80(at + env + (uint)i * 10, f.Raw(i));
        f.Reset();
    }

    private static void Frstor(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuCheck(waiting: true);
        bool wide = d.I.Code == Code.Frstor_m108byte;
        uint env = wide ? 28u : 14u;
        ulong at = c.FpuOperand(ref d, (int)env + 80, write: false);
        c.LoadFpuEnvironment(at, wide);
        for (int i = 0; i < 8; i++) f.SetRaw(i, c.ReadFloat80(at + env + (uint)i * 10));
    }

    /// <summary>FXSAVE/FXRSTOR's 512-byte area, which must be 16-byte aligned (#GP otherwise, whatever the mode).</summary>
    private ulong FxsaveArea(ref DecodedOp d, bool write)
    {
        ulong linear = _mode64 ? EffectiveAddress64(ref d) + (d.Seg is SegFs or SegGs ? FsGsBase(d.Seg) : 0)
            : _segs[d.Seg].Base + EffectiveAddress(ref d);
        if ((linear & 15) != 0) throw new CpuFault(Vector.GeneralProtection, 0);
        return FpuOperand(ref d, 512, write);
    }

    /// <summary>
    /// FXSAVE writes the x87 part of the image (bytes 0-23 and the registers at 32-159) and, with CR4.OSFXSR, MXCSR and
    /// its mask (24, 28) and the XMM registers from 160 (XMM8-15 only in 64-bit mode). FXSAVE64 (REX.W) stores FIP and
    /// FDP as 64-bit offsets without selectors. Reserved bytes and the slots' six pad bytes are left as they were.
    /// </summary>
    private static void Fxsave(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuCheck(waiting: false);
        ulong at = c.FxsaveArea(ref d, write: true);
        c.WriteLinear(at, 2, f.Control);
        c.WriteLinear(at + 2, 2, f.StatusWord);
        c.WriteLinear(at + 4, 2, f.AbridgedTag);
        c.WriteLinear(at + 6, 2, f.Fop);
        if (d.I.Mnemonic == Mnemonic.Fxsave64)
        {
            c.WriteLinear64(at + 8, f.Fip);
            c.WriteLinear64(at + 16, f.Fdp);
        }
        else
        {
            c.WriteLinear(at + 8, 4, f.Fip);
            c.WriteLinear(at + 12, 4, f.Fcs);
            c.WriteLinear(at + 16, 4, f.Fdp);
            c.WriteLinear(at + 20, 4, f.Fds);
        }
        for (int i = 0; i < 8; i++) c.WriteFloat80(at + 32 + (uint)i * 16, f.Raw(i));
        if ((c._cr4 & Cr4Osfxsr) == 0) return;
        c.WriteLinear(at + 24, 4, c._mxcsr);
        c.WriteLinear(at + 28, 4, MxcsrMask);
        for (int i = 0; i < (c._mode64 ? 16 : 8); i++) c.WriteVector(at + 160 + (uint)i * 16, 16, c._xmm[i]);
    }

    private static void Fxrstor(InterpreterCpu c, ref DecodedOp d)
    {
        var f = c.FpuCheck(waiting: false);
        ulong at = c.FxsaveArea(ref d, write: false);
        bool sse = (c._cr4 & Cr4Osfxsr) != 0;
        uint mxcsr = sse ? c.ReadLinear(at + 24, 4) : c._mxcsr;
        if ((mxcsr & ~MxcsrMask) != 0) throw new CpuFault(Vector.GeneralProtection, 0);
        f.LoadControlWord((ushort)c.ReadLinear(at, 2));
        f.LoadStatusWord((ushort)c.ReadLinear(at + 2, 2));
        f.AbridgedTag = (byte)c.ReadLinear(at + 4, 1);
        f.Fop = (ushort)(c.ReadLinear(at + 6, 2) & 0x7FF);
        f.Fip = c.ReadLinear(at + 8, 4);
        f.Fcs = d.I.Mnemonic == Mnemonic.Fxrstor64 ? (ushort)0 : (ushort)c.ReadLinear(at + 12, 2);
        f.Fdp = c.ReadLinear(at + 16, 4);
        f.Fds = d.I.Mnemonic == Mnemonic.Fxrstor64 ? (ushort)0 : (ushort)c.ReadLinear(at + 20, 2);
        for (int i = 0; i < 8; i++) f.SetRaw(i, c.ReadFloat80(at + 32 + (uint)i * 16));
        if (!sse) return;
        c._mxcsr = mxcsr;
        for (int i = 0; i < (c._mode64 ? 16 : 8); i++) c._xmm[i] = c.ReadVector(at + 160 + (uint)i * 16, 16);
    }
}
