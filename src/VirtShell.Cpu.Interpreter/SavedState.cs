using VirtShell.Engine.State;

namespace VirtShell.Cpu.Interpreter;

// The CPU in a saved state: the architectural registers as every backend writes them (CpuStateSection), then what the
// interpreter keeps besides — the halt, the STI/MOV SS shadows and NMI blocking (the events still pending are the
// interrupt controllers'), the MSRs, the debug registers, the TSC and the A20 mask. Decoded blocks are not state: a
// restored CPU decodes afresh from the restored RAM.
public sealed unsafe partial class InterpreterCpu : IDeviceState
{
    public void SaveState(StateWriter writer)
    {
        CpuStateSection.Write(writer, GetState());
        foreach (bool f in (ReadOnlySpan<bool>)[_halted, _interruptShadow, _ssShadow, _nmiBlocked]) writer.WriteBool(f);
        writer.WriteInt32(_cpl);
        writer.WriteInt64(InstructionsRetired);
        writer.WriteUInt64(Tsc);
        foreach (ulong msr in (ReadOnlySpan<ulong>)[_sysenterCs, _sysenterEsp, _sysenterEip, _miscEnable, _tscAux,
                     _star, _lstar, _cstar, _sfmask, _kernelGsBase])
            writer.WriteUInt64(msr);
        foreach (uint dr in _dr) writer.WriteUInt32(dr);
        writer.WriteUInt32(_dr6);
        writer.WriteUInt32(_dr7);
        writer.WriteUInt32(_addrMask);
    }

    public void RestoreState(StateReader reader)
    {
        var state = CpuStateSection.Read(reader);
        var (halted, interruptShadow, ssShadow, nmiBlocked) = (reader.ReadBool(), reader.ReadBool(), reader.ReadBool(), reader.ReadBool());
        int cpl = reader.ReadInt32(0, 3, "the CPL");
        long retired = reader.ReadInt64();
        ulong tsc = reader.ReadUInt64();
        (ulong sysenterCs, ulong sysenterEsp, ulong sysenterEip, ulong miscEnable, ulong tscAux) =
            (reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64());
        (_star, _lstar, _cstar, _sfmask, _kernelGsBase) = (reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadUInt64());
        reader.Check(sysenterCs <= uint.MaxValue && sysenterEsp <= uint.MaxValue && sysenterEip <= uint.MaxValue && tscAux <= uint.MaxValue,
            "a 32-bit MSR holds a 64-bit value");
        (_sysenterCs, _sysenterEsp, _sysenterEip, _miscEnable, _tscAux) = ((uint)sysenterCs, (uint)sysenterEsp, (uint)sysenterEip, miscEnable, (uint)tscAux);
        for (int i = 0; i < _dr.Length; i++) _dr[i] = reader.ReadUInt32();
        _dr6 = reader.ReadUInt32();
        uint dr7 = reader.ReadUInt32();
        for (int i = 0; i < 4; i++)
            reader.Check(((dr7 >> (2 * i)) & 3) == 0 || ((dr7 >> (16 + 4 * i)) & 3) == 0, $"DR7 arms DR{i} as a data or I/O breakpoint, which this CPU never accepts");
        WriteDr7(dr7);
        AddressMask = reader.ReadUInt32();

        SetState(state);
        (_halted, _interruptShadow, _ssShadow, _nmiBlocked, _cpl) = (halted, interruptShadow, ssShadow, nmiBlocked, cpl);
        Interlocked.Exchange(ref _retired, retired);
        _tscOffset = (long)tsc - HostTscTicks;
    }
}
