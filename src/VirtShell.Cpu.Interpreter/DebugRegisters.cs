namespace VirtShell.Cpu.Interpreter;

// MOV to and from DR0-DR7, and the instruction breakpoints DR7 arms. Data and I/O breakpoints are not implemented:
// arming one stops the machine rather than run without it.
public sealed unsafe partial class InterpreterCpu
{
    /// <summary>DR6 as the P6 family reads it with no condition recorded: bits 4-11 and 16-31 set, bit 12 clear.</summary>
    private const uint Dr6Fixed = 0xFFFF_0FF0, Dr6Bd = 0x2000;
    /// <summary>DR7: bit 10 reads as one; bits 11, 12, 14 and 15 as zero.</summary>
    private const uint Dr7Fixed = 0x400, Dr7Writable = 0xFFFF_27FF, Dr7Gd = 0x2000;

    private readonly uint[] _dr = new uint[4];
    private uint _dr6 = Dr6Fixed, _dr7 = Dr7Fixed;
    /// <summary>A bit per DR0-DR3 that DR7 arms as an instruction breakpoint; the run loop checks fetches while non-zero.</summary>
    private int _codeBreakpoints;

    private uint ReadDebugRegister(int n)
    {
        EnterDebugRegisterAccess(n);
        return n switch
        {
            < 4 => _dr[n],
            4 or 6 => _dr6,
            _ => _dr7,
        };
    }

    private void WriteDebugRegister(int n, uint v)
    {
        EnterDebugRegisterAccess(n);
        switch (n)
        {
            case < 4: _dr[n] = v; break;
            case 4 or 6: _dr6 = (v & ~Dr6Fixed & ~0x1000u) | Dr6Fixed; break;
            default: WriteDr7(v); break;
        }
    }

    /// <summary>The checks every MOV DRn makes: CPL 0, DR4/DR5 only as aliases (CR4.DE clear), DR7.GD.</summary>
    private void EnterDebugRegisterAccess(int n)
    {
        RequireCpl0(); // virtual-8086 mode runs at CPL 3
        if (n is 4 or 5 && (_cr4 & Cr4De) != 0) throw new CpuFault(Vector.InvalidOpcode);
        if ((_dr7 & Dr7Gd) != 0)
        {
            // General detect: the access itself is the debug exception, and the handler gets the registers free.
            _dr7 &= ~Dr7Gd;
            _dr6 |= Dr6Bd;
            throw new CpuFault(Vector.Debug);
        }
    }

    private void WriteDr7(uint v)
    {
        v = (v & Dr7Writable) | Dr7Fixed;
        int code = 0;
        for (int i = 0; i < 4; i++)
        {
            if (((v >> (2 * i)) & 3) == 0) continue;
            uint rw = (v >> (16 + 4 * i)) & 3;
            if (rw != 0)
                throw new UnimplementedInstruction(
                    $"DR7 = {v:x8} arms DR{i} as a {(rw == 2 ? "I/O" : "data")} breakpoint; only instruction breakpoints are implemented");
            code |= 1 << i;
        }
        _dr7 = v;
        _codeBreakpoints = code;
        _breakBlock = true; // the rest of the running block is checked too
    }

    /// <summary>
    /// Before an instruction runs while breakpoints are armed: RF set skips the check once (a handler returning to the
    /// breakpoint sets it); otherwise a match is the #DB fault, with the matching breakpoints in DR6.
    /// </summary>
    private void CheckCodeBreakpoints()
    {
        if ((_flagBits & FlagRf) != 0)
        {
            _flagBits &= ~FlagRf;
            return;
        }
        ulong linear = _mode64 ? _eip : (uint)(_segs[SegCs].Base + _eip);
        uint hits = 0;
        for (int i = 0; i < 4; i++)
            if ((_codeBreakpoints & (1 << i)) != 0 && _dr[i] == linear) hits |= 1u << i;
        if (hits == 0) return;
        _dr6 = (_dr6 & ~0xFu) | hits;
        throw new CpuFault(Vector.Debug);
    }

    /// <summary>A 32-bit IRET loads RF from its frame: how a #DB handler returns to a breakpoint without hitting it again.</summary>
    private void LoadResumeFlag(uint frameFlags)
    {
        if ((frameFlags & FlagRf) != 0) _flagBits |= FlagRf;
    }
}
