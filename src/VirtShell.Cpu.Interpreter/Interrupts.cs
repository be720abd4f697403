using System.Runtime.CompilerServices;
using Iced.Intel;
namespace VirtShell.Cpu.Interpreter;

// INT n / INT3 / INTO / IRET / BOUND and the delivery of exceptions and external interrupts.
public sealed unsafe partial class InterpreterCpu
{
    private static OpcodeRow[] InterruptOps() =>
    [
        Op(Mnemonic.Int, &Int, CpuModes.LegacyAndLong), Op(Mnemonic.Int3, &Int3, CpuModes.LegacyAndLong),
        Op(Mnemonic.Into, &Into), Op(Mnemonic.Int1, &Int1, CpuModes.LegacyAndLong), Op(Mnemonic.Iret, &Iret),
        Op(Mnemonic.Iretd, &Iret), Op(Mnemonic.Bound, &Bound),
    ];

    private enum InterruptKind { Software, Exception, External }

    /// <summary>
    /// Delivers an exception at the faulting instruction. A fault while delivering it becomes a double fault (#DF)
    /// where the SDM's table 6-5 says so (contributory after contributory, contributory or #PF after #PF); any other
    /// pair is handled serially, the second exception delivered in place of the first (eventinj: #NP whose frame
    /// meets a read-only stack takes the #PF, whose handler makes it writable, and the INT runs again). A fault while
    /// delivering #DF shuts the CPU down.
    /// </summary>
    private void RaiseFault(CpuFault f)
    {
        LastException = f.Vector;
        _eip = _instrStart;
        _breakBlock = true;
        try
        {
            DeliverInterrupt(f.Vector, _instrStart, InterruptKind.Exception, f.ErrorCode >= 0 ? f.ErrorCode : null);
        }
        catch (CpuFault nested)
        {
            if (f.Vector == Vector.DoubleFault)
                throw new TripleFault($"triple fault: exception {nested.Vector} while delivering a double fault at {_segs[SegCs].Selector:x4}:{_instrStart:x8}");
            RaiseFault(IsDoubleFault(f.Vector, nested.Vector) ? new CpuFault(Vector.DoubleFault, 0) : nested);
        }
    }

    private static bool IsContributory(int vector) => vector is Vector.DivideError or Vector.InvalidTss or
        Vector.SegmentNotPresent or Vector.StackFault or Vector.GeneralProtection;

    private static bool IsDoubleFault(int first, int second) =>
        (IsContributory(first) && IsContributory(second)) ||
        (first == Vector.PageFault && (second == Vector.PageFault || IsContributory(second)));

    private void DeliverInterrupt(int vector, ulong returnEip, InterruptKind kind, int? errorCode)
    {
        _breakBlock = true;
        if (ProtectedMode)
        {
            DeliverProtected(vector, returnEip, kind, errorCode);
            return;
        }
        uint entry = (uint)vector * 4;
        if (entry + 3 > _idtr.Limit) throw new CpuFault(Vector.GeneralProtection, vector * 8 + 2);
        uint target = ReadLinear32((uint)_idtr.Base + entry);
        Push16(Eflags & 0xFFFF);
        Push16(_segs[SegCs].Selector);
        Push16((uint)returnEip & 0xFFFF);
        Eflags &= ~(FlagIf | FlagTf | FlagAc);
        LoadSegmentReal(SegCs, (ushort)(target >> 16));
        _eip = target & 0xFFFF;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int(InterpreterCpu c, ref DecodedOp d)
    {
        // In virtual-8086 mode INT n (unlike INT3 and INTO) is IOPL-sensitive: below 3 the monitor gets #GP(0).
        if (c.V86 && c.Iopl < 3) throw new CpuFault(Vector.GeneralProtection, 0);
        c.SoftwareInterrupt((int)(d.Imm & 0xFF));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int3(InterpreterCpu c, ref DecodedOp d) => c.SoftwareInterrupt(Vector.Breakpoint);

    /// <summary>ICEBP (F1): a debug trap through vector 1 without the software-interrupt privilege check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Int1(InterpreterCpu c, ref DecodedOp d) => c.DeliverInterrupt(Vector.Debug, c._eip, InterruptKind.Exception, null);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Into(InterpreterCpu c, ref DecodedOp d)
    {
        if ((c.Eflags & FlagOf) != 0) c.SoftwareInterrupt(Vector.Overflow);
    }

    private void SoftwareInterrupt(int vector)
    {
        DeliverInterrupt(vector, _eip, InterruptKind.Software, null);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Iret(InterpreterCpu c, ref DecodedOp d)
    {
        c._breakBlock = true;
        if (c.ProtectedMode && !c.V86) c.IretProtected(d.OpSize);
        else c.IretReal(d.OpSize);
        c._nmiBlocked = false; // an IRET that completes ends NMI blocking, whichever frame it popped (SDM 6.7.1)
    }

    private void IretReal(int opSize)
    {
        // In virtual-8086 mode IRET works as in real mode, but only with IOPL 3 (else the monitor emulates it).
        if (V86 && Iopl < 3) throw new CpuFault(Vector.GeneralProtection, 0);
        if (opSize == 4)
        {
            uint sp = (uint)_gpr[RegEsp];
            uint eip = Pop32();
            uint cs = Pop32();
            uint fl = Pop32();
            if (eip > _segs[SegCs].Limit && eip > 0xFFFF)
            {
                _gpr[RegEsp] = sp;
                throw new CpuFault(Vector.GeneralProtection, 0);
            }
            LoadSegmentReal(SegCs, (ushort)cs);
            _eip = eip;
            WriteFlagsChecked(fl, 0x00FF_FFFF & ~0x30000u);
            LoadResumeFlag(fl);
        }
        else
        {
            uint ip = Pop16();
            uint cs = Pop16();
            uint fl = Pop16();
            LoadSegmentReal(SegCs, (ushort)cs);
            _eip = ip;
            WriteFlagsChecked(fl, 0xFFFF);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bound(InterpreterCpu c, ref DecodedOp d)
    {
        int size = d.OpSize;
        uint addr = c.EffectiveAddress(ref d);
        int idx = RegNumbers[(int)d.I.Op0Register];
        uint lower = c.ReadMem(d.Seg, addr, size);
        uint upper = c.ReadMem(d.Seg, (addr + (uint)size) & d.AddrMask, size);
        int v = size == 2 ? (short)(uint)c._gpr[idx] : (int)(uint)c._gpr[idx];
        int lo = size == 2 ? (short)lower : (int)lower;
        int hi = size == 2 ? (short)upper : (int)upper;
        if (v < lo || v > hi) throw new CpuFault(Vector.Bound);
    }
}
