using System.Runtime.CompilerServices;
using Iced.Intel;
using VirtShell.Engine.Cpu;

namespace VirtShell.Cpu.Interpreter;

/// <summary>A segment register as cached by the CPU; base and limit are what address translation uses.</summary>
internal struct Segment
{
    public ushort Selector;
    public uint Base;
    public uint Limit;
    /// <summary>Descriptor access byte in the low 8 bits, AVL/L/D-B/G in bits 12-15 (the CpuState layout).</summary>
    public ushort Attributes;
    public readonly bool Big => (Attributes & 0x4000) != 0;
    /// <summary>The L bit of a code segment: 64-bit code when IA-32e mode is active.</summary>
    public readonly bool Long => (Attributes & 0x2000) != 0;
}

public sealed unsafe partial class InterpreterCpu
{
    // GPR numbers in x86 encoding order (R8-R15 are 8-15). Slot 16 is always zero: address calculation indexes it for
    // "no register".
    private const int RegEax = 0, RegEcx = 1, RegEdx = 2, RegEbx = 3, RegEsp = 4, RegEbp = 5, RegEsi = 6, RegEdi = 7, RegNone = 16;
    private const int SegEs = 0, SegCs = 1, SegSs = 2, SegDs = 3, SegFs = 4, SegGs = 5;

    /// <summary>
    /// The GPR file, 64 bits a register, in a pinned array (kept alive by this field), indexed through <see cref="_gpr"/>
    /// without bounds checks. A 32-bit write stores the zero-extended value, which is what 64-bit mode requires and what
    /// the other modes leave undefined; 8- and 16-bit writes keep the rest of the register.
    /// </summary>
    private readonly ulong[] _gprStore = GC.AllocateArray<ulong>(17, pinned: true);
    private readonly ulong* _gpr;
    private readonly Segment[] _segs = new Segment[6];
    /// <summary>RIP: 64 bits in 64-bit mode; below 4 GiB in every other mode, where it is EIP or IP.</summary>
    private ulong _eip;
    private uint _cr0 = 0x10, _cr3, _cr4;
    private ulong _cr2;
    private ulong _efer;
    private DescriptorTableState _gdtr, _idtr;
    private Segment _ldtr, _tr;

    /// <summary>CS.D: the code segment decodes as 32-bit.</summary>
    private bool _code32;
    /// <summary>SS.B: the stack pointer is ESP rather than SP.</summary>
    private bool _stack32;
    private bool ProtectedMode => (_cr0 & 1) != 0;

    /// <summary>The decoder mode of the running code: what CS.D, CS.L and EFER.LMA select. Blocks are cached per mode.</summary>
    private const byte Code16 = 0, Code32 = 1, Code64 = 2;
    private byte _codeMode;
    /// <summary>64-bit mode: IA-32e mode is active and CS.L is set (LongMode.cs).</summary>
    private bool _mode64;

    private enum RegKind : byte { None, Low8, High8, Word, Dword, Qword, Segment, Control, Debug, Xmm, Other }

    private static readonly RegKind[] RegKinds = new RegKind[256];
    private static readonly byte[] RegNumbers = new byte[256];

    static InterpreterCpu()
    {
        foreach (var r in Enum.GetValues<Iced.Intel.Register>())
        {
            int i = (int)r;
            if (i >= 256) continue;
            if (r == Iced.Intel.Register.None) { RegNumbers[i] = RegNone; continue; }
            int n = r.GetNumber();
            if (r.IsGPR8())
            {
                // AL-BH, then (with REX) SPL BPL SIL DIL and R8L-R15L, the low bytes of registers 4-15.
                RegKinds[i] = n is >= 4 and < 8 ? RegKind.High8 : RegKind.Low8;
                RegNumbers[i] = (byte)(n < 8 ? n & 3 : n - 4);
            }
            else if (r.IsGPR64()) { RegKinds[i] = RegKind.Qword; RegNumbers[i] = (byte)n; }
            else if (r.IsGPR16()) { RegKinds[i] = RegKind.Word; RegNumbers[i] = (byte)n; }
            else if (r.IsGPR32()) { RegKinds[i] = RegKind.Dword; RegNumbers[i] = (byte)n; }
            else if (r.IsSegmentRegister()) { RegKinds[i] = RegKind.Segment; RegNumbers[i] = (byte)n; }
            else if (r.IsCR()) { RegKinds[i] = RegKind.Control; RegNumbers[i] = (byte)n; }
            else if (r.IsDR() && n < 8) { RegKinds[i] = RegKind.Debug; RegNumbers[i] = (byte)n; }
            else if (IsXmm(r)) { RegKinds[i] = RegKind.Xmm; RegNumbers[i] = (byte)(r - Iced.Intel.Register.XMM0); }
            else RegKinds[i] = RegKind.Other;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private uint ReadReg(Iced.Intel.Register r)
    {
        int n = RegNumbers[(int)r];
        return RegKinds[(int)r] switch
        {
            RegKind.Low8 => (uint)_gpr[n] & 0xFF,
            RegKind.High8 => ((uint)_gpr[n] >> 8) & 0xFF,
            RegKind.Word => (uint)_gpr[n] & 0xFFFF,
            RegKind.Dword => (uint)_gpr[n],
            RegKind.Segment => _segs[n].Selector,
            RegKind.Control => (uint)ReadControlRegister(n),
            RegKind.Debug => ReadDebugRegister(n),
            _ => throw new UnimplementedInstruction($"register {r}"),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteReg(Iced.Intel.Register r, uint v)
    {
        int n = RegNumbers[(int)r];
        switch (RegKinds[(int)r])
        {
            case RegKind.Low8: _gpr[n] = (_gpr[n] & ~0xFFUL) | (v & 0xFF); break;
            case RegKind.High8: _gpr[n] = (_gpr[n] & ~0xFF00UL) | ((v & 0xFF) << 8); break;
            case RegKind.Word: _gpr[n] = (_gpr[n] & ~0xFFFFUL) | (v & 0xFFFF); break;
            case RegKind.Dword: _gpr[n] = v; break;
            case RegKind.Segment: LoadSegment(n, (ushort)v); break;
            case RegKind.Control: WriteControlRegister(n, v); break;
            case RegKind.Debug: WriteDebugRegister(n, v); break;
            default: throw new UnimplementedInstruction($"register {r}");
        }
    }

    private uint Ax { get => (uint)_gpr[RegEax] & 0xFFFF; set => _gpr[RegEax] = (_gpr[RegEax] & ~0xFFFFUL) | (value & 0xFFFF); }

    private uint ReadGpr(int n, int size) => size switch
    {
        1 => (uint)_gpr[n] & 0xFF,
        2 => (uint)_gpr[n] & 0xFFFF,
        _ => (uint)_gpr[n],
    };

    private void WriteGpr(int n, int size, uint v)
    {
        switch (size)
        {
            case 1: _gpr[n] = (_gpr[n] & ~0xFFUL) | (v & 0xFF); break;
            case 2: _gpr[n] = (_gpr[n] & ~0xFFFFUL) | (v & 0xFFFF); break;
            default: _gpr[n] = v; break;
        }
    }

    public CpuState GetState()
    {
        var s = new CpuState
        {
            Rax = _gpr[RegEax], Rcx = _gpr[RegEcx], Rdx = _gpr[RegEdx], Rbx = _gpr[RegEbx],
            Rsp = _gpr[RegEsp], Rbp = _gpr[RegEbp], Rsi = _gpr[RegEsi], Rdi = _gpr[RegEdi],
            R8 = _gpr[8], R9 = _gpr[9], R10 = _gpr[10], R11 = _gpr[11], R12 = _gpr[12], R13 = _gpr[13], R14 = _gpr[14], R15 = _gpr[15],
            Rip = _eip, Rflags = Flags,
            Es = ToState(_segs[SegEs]), Cs = ToState(_segs[SegCs]), Ss = ToState(_segs[SegSs]),
            Ds = ToState(_segs[SegDs]), Fs = ToState(_segs[SegFs]), Gs = ToState(_segs[SegGs]),
            Ldtr = ToState(_ldtr), Tr = ToState(_tr),
            Gdtr = _gdtr, Idtr = _idtr,
            Cr0 = _cr0, Cr2 = _cr2, Cr3 = _cr3, Cr4 = _cr4, Efer = _efer,
        };
        s.Fs.Base = FsGsBase(SegFs);
        s.Gs.Base = FsGsBase(SegGs);
        s.Tr.Base = TssBase;
        _fpu.SaveTo(s.Fpu);
        s.Fpu.Mxcsr = _mxcsr;
        _xmm.CopyTo(s.Fpu.Xmm, 0);
        return s;
    }

    public void SetState(CpuState s)
    {
        ArgumentNullException.ThrowIfNull(s);
        _gpr[RegEax] = s.Rax; _gpr[RegEcx] = s.Rcx; _gpr[RegEdx] = s.Rdx; _gpr[RegEbx] = s.Rbx;
        _gpr[RegEsp] = s.Rsp; _gpr[RegEbp] = s.Rbp; _gpr[RegEsi] = s.Rsi; _gpr[RegEdi] = s.Rdi;
        _gpr[8] = s.R8; _gpr[9] = s.R9; _gpr[10] = s.R10; _gpr[11] = s.R11;
        _gpr[12] = s.R12; _gpr[13] = s.R13; _gpr[14] = s.R14; _gpr[15] = s.R15;
        _gpr[RegNone] = 0;
        _eip = s.Rip;
        Eflags = ((uint)s.Rflags & (WritableFlags | FlagVm)) | 2;
        _segs[SegEs] = FromState(s.Es); _segs[SegCs] = FromState(s.Cs); _segs[SegSs] = FromState(s.Ss);
        _segs[SegDs] = FromState(s.Ds); _segs[SegFs] = FromState(s.Fs); _segs[SegGs] = FromState(s.Gs);
        _fsBaseHigh = (uint)(s.Fs.Base >> 32);
        _gsBaseHigh = (uint)(s.Gs.Base >> 32);
        _trBaseHigh = (uint)(s.Tr.Base >> 32);
        _ldtr = FromState(s.Ldtr); _tr = FromState(s.Tr);
        _gdtr = s.Gdtr; _idtr = s.Idtr;
        _cr0 = (uint)s.Cr0; _cr2 = s.Cr2; _cr3 = (uint)s.Cr3; _cr4 = (uint)s.Cr4; _efer = s.Efer;
        _noExecute = (_efer & EferNxe) != 0;
        _fpu.LoadFrom(s.Fpu);
        _mxcsr = s.Fpu.Mxcsr & MxcsrMask;
        s.Fpu.Xmm.CopyTo(_xmm, 0);
        _halted = false;
        _interruptShadow = false;
        _breakBlock = true;
        ModeChanged();
        PagingModeChanged();
    }

    private static SegmentState ToState(Segment s) =>
        new() { Selector = s.Selector, Base = s.Base, Limit = s.Limit, Attributes = s.Attributes };

    private static Segment FromState(SegmentState s) =>
        new() { Selector = s.Selector, Base = (uint)s.Base, Limit = s.Limit, Attributes = s.Attributes };

    /// <summary>Recomputes what is cached from CS, SS, CR0, EFER.LMA and EFLAGS.VM.</summary>
    private void ModeChanged()
    {
        _cpl = !ProtectedMode ? 0 : V86 ? 3 : _segs[SegCs].Selector & 3;
        _code32 = _segs[SegCs].Big;
        _stack32 = _segs[SegSs].Big;
        _mode64 = Lma && ProtectedMode && _segs[SegCs].Long;
        // 64-bit mode ignores the CS base (and limit); keeping it 0 lets the fetch path stay the same.
        if (_mode64) _segs[SegCs].Base = 0;
        _codeMode = _mode64 ? Code64 : _code32 ? Code32 : Code16;
        _breakBlock = true;
    }
}
