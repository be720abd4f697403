using VirtShell.Engine.Cpu;

namespace VirtShell.Cpu.Interpreter;

/// <summary>
/// The x87 register file: eight 80-bit registers addressed as a stack from TOP, which registers are empty (the tag
/// word's "empty" state; the other tag states are computed from the contents when software reads them), the control
/// and status words and the last-instruction pointers that FSTENV/FSAVE/FXSAVE expose.
/// </summary>
internal sealed class X87State
{
    public const ushort StatusEs = 0x80, StatusC0 = 0x100, StatusC1 = 0x200, StatusC2 = 0x400, StatusC3 = 0x4000, StatusB = 0x8000;
    public const ushort ConditionCodes = StatusC0 | StatusC1 | StatusC2 | StatusC3;
    private const ushort ExceptionFlags = 0x3F, TopField = 0x3800;
    /// <summary>Exceptions that, unmasked, leave the destination and the stack as they were.</summary>
    public const X87Exceptions Aborting = X87Exceptions.Invalid | X87Exceptions.ZeroDivide | X87Exceptions.Denormal;

    private readonly Float80[] _regs = new Float80[8];
    /// <summary>Bit n set: physical register n is empty.</summary>
    private byte _empty = 0xFF;
    private ushort _status;

    public int Top { get; private set; }
    public ushort Control { get; private set; } = 0x037F;
    /// <summary>Last non-control instruction: offset, CS selector, opcode (11 bits), and its memory operand.</summary>
    public uint Fip, Fdp;
    public ushort Fcs, Fds, Fop;

    /// <summary>FNINIT.</summary>
    public void Reset()
    {
        Control = 0x037F;
        _status = 0;
        Top = 0;
        _empty = 0xFF;
        Fip = Fdp = 0;
        Fcs = Fds = Fop = 0;
    }

    public X87Rounding Rounding => (X87Rounding)((Control >> 10) & 3);
    /// <summary>Significand bits + − × ÷ √ round to: precision control 00 single, 10 double, 11 extended (01 is reserved and acts like 11).</summary>
    public int Precision => ((Control >> 8) & 3) switch { 0 => 24, 2 => 53, _ => 64 };

    private int Physical(int i) => (Top + i) & 7;
    public bool IsEmpty(int i) => ((_empty >> Physical(i)) & 1) != 0;
    public Float80 this[int i] => _regs[Physical(i)];

    public void Set(int i, Float80 v)
    {
        int p = Physical(i);
        _regs[p] = v;
        _empty &= (byte)~(1 << p);
    }

    public void Free(int i) => _empty |= (byte)(1 << Physical(i));

    /// <summary>Pushes onto the stack; the caller has checked that ST(7) is empty (see <see cref="CanPush"/>).</summary>
    public void Push(Float80 v)
    {
        Top = (Top - 1) & 7;
        Set(0, v);
    }

    public void Pop()
    {
        Free(0);
        Top = (Top + 1) & 7;
    }

    public bool CanPush => IsEmpty(7);
    public void Rotate(int delta) => Top = (Top + delta) & 7;

    public ushort StatusWord => (ushort)((_status & ~TopField) | (Top << 11));

    public void LoadStatusWord(ushort v)
    {
        Top = (v >> 11) & 7;
        _status = (ushort)(v & ~TopField);
        UpdateSummary();
    }

    public void LoadControlWord(ushort v)
    {
        // Bit 6 reads as one and bits 13-15 as zero on the 387 and later.
        Control = (ushort)((v & 0x1F3F) | 0x40);
        UpdateSummary();
    }

    /// <summary>ES and B: set while any exception flag is unmasked, which makes the next waiting instruction fault.</summary>
    private void UpdateSummary()
    {
        if ((_status & ~Control & ExceptionFlags) != 0) _status |= StatusEs | StatusB;
        else _status &= unchecked((ushort)~(StatusEs | StatusB));
    }

    public bool ErrorPending => (_status & StatusEs) != 0;

    public void ClearExceptions() => _status &= unchecked((ushort)~(ExceptionFlags | (ushort)X87Exceptions.StackFault | StatusEs | StatusB));

    /// <summary>Whether any of <paramref name="ex"/> in <paramref name="which"/> is unmasked.</summary>
    public bool Unmasked(X87Exceptions ex, X87Exceptions which = Aborting) => ((ushort)(ex & which) & ~Control & ExceptionFlags) != 0;

    /// <summary>
    /// Records exception flags (sticky) and returns whether an aborting one (IE, ZE, DE) is unmasked: then the
    /// instruction must not write its destination nor move the stack.
    /// </summary>
    public bool Signal(X87Exceptions ex)
    {
        if (ex == X87Exceptions.None) return false;
        _status |= (ushort)ex;
        UpdateSummary();
        return Unmasked(ex);
    }

    /// <summary>Stack overflow (C1=1) or underflow (C1=0): IE with SF. True when IE is unmasked.</summary>
    public bool StackFault(bool overflow)
    {
        SetC1(overflow);
        return Signal(X87Exceptions.Invalid | X87Exceptions.StackFault);
    }

    public void SetC1(bool on) => _status = on ? (ushort)(_status | StatusC1) : (ushort)(_status & ~StatusC1);
    public void SetC2(bool on) => _status = on ? (ushort)(_status | StatusC2) : (ushort)(_status & ~StatusC2);

    /// <summary>Sets C0, C2 and C3 (a comparison or classification result; C1 is left alone).</summary>
    public void SetC320(bool c3, bool c2, bool c0) =>
        _status = (ushort)((_status & ~(StatusC0 | StatusC2 | StatusC3)) | (c3 ? StatusC3 : 0) | (c2 ? StatusC2 : 0) | (c0 ? StatusC0 : 0));

    public void SetConditionCodes(ushort cc) => _status = (ushort)((_status & ~ConditionCodes) | (cc & ConditionCodes));

    /// <summary>The full tag word: per physical register 0 valid, 1 zero, 2 special, 3 empty.</summary>
    public ushort TagWord
    {
        get
        {
            int tags = 0;
            for (int p = 0; p < 8; p++) tags |= ((_empty >> p & 1) != 0 ? 3 : _regs[p].Tag) << (2 * p);
            return (ushort)tags;
        }
    }

    /// <summary>Only "empty" is taken from a loaded tag word; the other states follow from the register contents.</summary>
    public void LoadTagWord(ushort tags)
    {
        _empty = 0;
        for (int p = 0; p < 8; p++)
            if (((tags >> (2 * p)) & 3) == 3) _empty |= (byte)(1 << p);
    }

    /// <summary>FXSAVE's one bit per physical register: 1 = not empty.</summary>
    public byte AbridgedTag
    {
        get => (byte)~_empty;
        set => _empty = (byte)~value;
    }

    /// <summary>Into the engine's state, as FXSAVE would lay it out (pointers in the 32-bit format: offset, then selector).</summary>
    public void SaveTo(FpuState state)
    {
        state.Fcw = Control;
        state.Fsw = StatusWord;
        state.Ftw = AbridgedTag;
        state.LastOpcode = Fop;
        state.LastIp = Fip | (ulong)Fcs << 32;
        state.LastDp = Fdp | (ulong)Fds << 32;
        for (int i = 0; i < 8; i++) state.St[i] = (UInt128)Raw(i).SignExponent << 64 | Raw(i).Significand;
    }

    public void LoadFrom(FpuState state)
    {
        LoadControlWord(state.Fcw);
        LoadStatusWord(state.Fsw);
        AbridgedTag = state.Ftw;
        Fop = (ushort)(state.LastOpcode & 0x7FF);
        (Fip, Fcs) = ((uint)state.LastIp, (ushort)(state.LastIp >> 32));
        (Fdp, Fds) = ((uint)state.LastDp, (ushort)(state.LastDp >> 32));
        for (int i = 0; i < 8; i++) SetRaw(i, new Float80((ulong)state.St[i], (ushort)(state.St[i] >> 64)));
    }

    /// <summary>Register <paramref name="i"/> of the stack for FSAVE/FXSAVE images, empty or not.</summary>
    public Float80 Raw(int i) => _regs[Physical(i)];
    public void SetRaw(int i, Float80 v) => _regs[Physical(i)] = v;
}
