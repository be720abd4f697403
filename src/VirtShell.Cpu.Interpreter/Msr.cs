using Iced.Intel;

namespace VirtShell.Cpu.Interpreter;

// RDMSR WRMSR RDTSC RDTSCP RDPID SYSENTER SYSEXIT: the model-specific registers a 32-bit kernel touches on this i686-class CPU.
// The table is deliberately small and matches CPUID (Cpuid.cs): no MTRRs, no PAT, so their MSRs do not exist here and
// reading them raises #GP(0) as on a CPU without them. IA32_APIC_BASE exists when the CPU was given a local APIC.
public sealed unsafe partial class InterpreterCpu
{
    /// <summary>IA32_MISC_ENABLE at reset: fast strings on, branch-trace store and PEBS unavailable.</summary>
    private const ulong MiscEnableReset = 0x1 | 0x800 | 0x1000;

    /// <summary>The microcode revision IA32_BIOS_SIGN_ID reports in its high half: none was ever loaded.</summary>
    private const uint MicrocodeRevision = 0;

    /// <summary>
    /// The TSC's rate. It follows host time, not retired instructions: a kernel calibrates it against the PIT, which
    /// runs in real time, and an instruction-counting TSC measured that way makes its clock run as many times too fast
    /// as port-heavy calibration loops are slower than the code that follows.
    /// </summary>
    private const long TscHz = 1_000_000_000;

    /// <summary>TSC minus host time in TSC ticks; a write to IA32_TSC moves it.</summary>
    private long _tscOffset;
    private uint _sysenterCs, _sysenterEsp, _sysenterEip;
    private ulong _miscEnable = MiscEnableReset;
    /// <summary>IA32_TSC_AUX: what RDTSCP returns in ECX and RDPID in its register (an OS puts the CPU number there).</summary>
    private uint _tscAux;

    private static OpcodeRow[] ModelSpecificOps() =>
    [
        Op(Mnemonic.Rdmsr, &Rdmsr, CpuModes.LegacyAndLong), Op(Mnemonic.Wrmsr, &Wrmsr, CpuModes.LegacyAndLong),
        Op(Mnemonic.Rdtsc, &Rdtsc, CpuModes.LegacyAndLong), Op(Mnemonic.Rdtscp, &Rdtscp, CpuModes.LegacyAndLong),
        Op(Mnemonic.Rdpid, &Rdpid), Op(Mnemonic.Sysenter, &Sysenter), Op(Mnemonic.Sysexit, &Sysexit),
    ];

    private static long HostTscTicks => (long)((Int128)System.Diagnostics.Stopwatch.GetTimestamp() * TscHz / System.Diagnostics.Stopwatch.Frequency);
    private ulong Tsc => (ulong)(HostTscTicks + _tscOffset);

    private ulong ReadMsr(uint index) => IsLongModeMsr(index) ? ReadLongModeMsr(index) : index switch
    {
        MsrTsc => Tsc,
        MsrPlatformId => 0,
        MsrApicBase when _apic != null => _apic.BaseMsr,
        MsrBiosSignId => (ulong)MicrocodeRevision << 32,
        MsrSysenterCs => _sysenterCs,
        MsrSysenterEsp => _sysenterEsp,
        MsrSysenterEip => _sysenterEip,
        MsrMiscEnable => _miscEnable,
        MsrTscAux => _tscAux,
        _ => throw new CpuFault(Vector.GeneralProtection, 0),
    };

    private void WriteMsr(uint index, ulong value)
    {
        if (IsLongModeMsr(index))
        {
            WriteLongModeMsr(index, value);
            return;
        }
        switch (index)
        {
            case MsrTsc: _tscOffset = (long)value - HostTscTicks; break;
            case MsrApicBase when _apic != null:
                if (!_apic.TryWriteBaseMsr(value)) throw new CpuFault(Vector.GeneralProtection, 0);
                break;
            // Linux writes 0 here before reading the revision back; there is no microcode to load, so it is ignored.
            case MsrBiosSignId: break;
            case MsrSysenterCs: _sysenterCs = (uint)value; break;
            case MsrSysenterEsp: _sysenterEsp = (uint)value; break;
            case MsrSysenterEip: _sysenterEip = (uint)value; break;
            case MsrMiscEnable: _miscEnable = value; break;
            case MsrTscAux when value >> 32 == 0: _tscAux = (uint)value; break;
            default: throw new CpuFault(Vector.GeneralProtection, 0); // IA32_PLATFORM_ID is read-only; the rest do not exist
        }
    }

    private static void Rdmsr(InterpreterCpu c, ref DecodedOp d)
    {
        c.RequireCpl0();
        ulong v = c.ReadMsr((uint)c._gpr[RegEcx]);
        c._gpr[RegEax] = (uint)v;
        c._gpr[RegEdx] = (uint)(v >> 32);
    }

    private static void Wrmsr(InterpreterCpu c, ref DecodedOp d)
    {
        c.RequireCpl0();
        c.WriteMsr((uint)c._gpr[RegEcx], ((ulong)(uint)c._gpr[RegEdx] << 32) | (uint)c._gpr[RegEax]);
    }

    private static void Rdtsc(InterpreterCpu c, ref DecodedOp d)
    {
        ulong t = c.Tsc;
        c._gpr[RegEax] = (uint)t;
        c._gpr[RegEdx] = (uint)(t >> 32);
    }

    /// <summary>RDTSCP: RDTSC that also returns IA32_TSC_AUX in ECX.</summary>
    private static void Rdtscp(InterpreterCpu c, ref DecodedOp d)
    {
        Rdtsc(c, ref d);
        c._gpr[RegEcx] = c._tscAux;
    }

    /// <summary>RDPID: IA32_TSC_AUX into a register (32-bit operand outside 64-bit mode, zero-extended within it).</summary>
    private static void Rdpid(InterpreterCpu c, ref DecodedOp d) =>
        c._gpr[RegNumbers[(int)d.I.Op0Register]] = c._tscAux;

    /// <summary>
    /// SYSENTER: to ring 0 at SYSENTER_CS:SYSENTER_EIP with SS = SYSENTER_CS + 8 and ESP = SYSENTER_ESP; both segments
    /// flat 4 GiB (the CPU loads fixed descriptors, it does not read the GDT).
    /// </summary>
    private static void Sysenter(InterpreterCpu c, ref DecodedOp d)
    {
        if (!c.ProtectedMode || (c._sysenterCs & 0xFFFC) == 0) throw new CpuFault(Vector.GeneralProtection, 0);
        c.Eflags &= ~(FlagIf | FlagRf | FlagVm);
        ushort cs = (ushort)(c._sysenterCs & 0xFFFC);
        c.LoadFlatSegments(cs, (ushort)(cs + 8), 0);
        c._gpr[RegEsp] = c._sysenterEsp;
        c._eip = c._sysenterEip;
    }

    /// <summary>SYSEXIT: back to ring 3 at CS = SYSENTER_CS + 16, SS = SYSENTER_CS + 24, EIP = EDX, ESP = ECX.</summary>
    private static void Sysexit(InterpreterCpu c, ref DecodedOp d)
    {
        if (!c.ProtectedMode || (c._sysenterCs & 0xFFFC) == 0 || c.Cpl != 0) throw new CpuFault(Vector.GeneralProtection, 0);
        ushort cs = (ushort)((c._sysenterCs + 16) | 3);
        c.LoadFlatSegments(cs, (ushort)((c._sysenterCs + 24) | 3), 3);
        c._gpr[RegEsp] = (uint)c._gpr[RegEcx];
        c._eip = (uint)c._gpr[RegEdx];
    }

    /// <summary>The fixed flat 32-bit CS and SS SYSENTER and SYSEXIT load at privilege <paramref name="dpl"/>.</summary>
    private void LoadFlatSegments(ushort cs, ushort ss, int dpl)
    {
        ushort common = (ushort)(0xC090 | (dpl << 5)); // G, D/B, present, code/data, DPL
        _segs[SegCs] = new Segment { Selector = cs, Base = 0, Limit = 0xFFFF_FFFF, Attributes = (ushort)(common | 0x0B) };
        _segs[SegSs] = new Segment { Selector = ss, Base = 0, Limit = 0xFFFF_FFFF, Attributes = (ushort)(common | 0x03) };
        ModeChanged();
    }
}
