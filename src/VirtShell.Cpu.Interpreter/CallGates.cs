namespace VirtShell.Cpu.Interpreter;

// Far JMP/CALL through a system descriptor: call gates (16- and 32-bit, same privilege or, for CALL, to a more
// privileged non-conforming segment with the stack switch through the TSS and the parameter copy), and task gates and
// TSS descriptors, which switch tasks (TaskSwitch.cs). The checks and error codes follow the SDM's JMP and CALL pages.
public sealed unsafe partial class InterpreterCpu
{
    private const int DescTss16 = 0x01, DescTss32 = 0x09, DescCallGate16 = 0x04, DescCallGate32 = 0x0C, DescTaskGate = 0x05;

    private void FarTransferThroughSystemDescriptor(ushort selector, uint lo, uint hi, bool call)
    {
        int type = (int)(hi >> 8) & 0x1F;
        int dpl = (int)(hi >> 13) & 3;
        if (type is not (DescCallGate16 or DescCallGate32 or DescTaskGate or DescTss16 or DescTss32))
            throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        if (dpl < Cpl || dpl < (selector & 3)) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
        if ((hi & 0x8000) == 0) throw new CpuFault(Vector.SegmentNotPresent, selector & 0xFFFC);
        var source = call ? TaskSwitchSource.Call : TaskSwitchSource.Jmp;
        switch (type)
        {
            case DescTss16 or DescTss32:
                if ((selector & 4) != 0) throw new CpuFault(Vector.GeneralProtection, selector & 0xFFFC);
                SwitchTask(DecodeDescriptor(selector, lo, hi), source, (uint)_eip, null);
                break;
            case DescTaskGate:
                SwitchTask(TaskGateTarget((ushort)(lo >> 16), Vector.GeneralProtection), source, (uint)_eip, null);
                break;
            default:
                ThroughCallGate(lo, hi, type == DescCallGate32 ? 4 : 2, call);
                break;
        }
    }

    private void ThroughCallGate(uint lo, uint hi, int size, bool call)
    {
        ushort codeSelector = (ushort)(lo >> 16);
        uint offset = (lo & 0xFFFF) | (size == 4 ? hi & 0xFFFF_0000 : 0);
        if ((codeSelector & 0xFFFC) == 0) throw new CpuFault(Vector.GeneralProtection, 0);
        var code = ReadDescriptor(codeSelector);
        int cpl = Cpl;
        int dpl = (code.Attributes >> 5) & 3;
        bool conforming = (code.Attributes & 0x04) != 0;
        if ((code.Attributes & 0x18) != 0x18 || dpl > cpl) throw new CpuFault(Vector.GeneralProtection, codeSelector & 0xFFFC);
        if (!call && !conforming && dpl != cpl) throw new CpuFault(Vector.GeneralProtection, codeSelector & 0xFFFC);
        if ((code.Attributes & 0x80) == 0) throw new CpuFault(Vector.SegmentNotPresent, codeSelector & 0xFFFC);
        if (call && !conforming && dpl < cpl)
        {
            CallToInnerLevel(code, offset, dpl, size, (int)(hi & 0x1F));
            return;
        }
        if (offset > code.Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        if (call) PushFarReturn(size);
        EnterCodeAtSameLevel(code, codeSelector, offset);
    }

    /// <summary>
    /// CALL through a gate to a more privileged level: the new stack from the TSS gets the caller's SS:ESP,
    /// <paramref name="paramCount"/> parameters copied from the caller's stack, then the return CS:EIP.
    /// </summary>
    private void CallToInnerLevel(Segment code, uint offset, int level, int size, int paramCount)
    {
        var (newSs, newEsp) = TssStack(level);
        var ss = CheckStackSegment(newSs, level, Vector.InvalidTss);
        uint frame = (uint)size * (4 + (uint)paramCount);
        uint newMask = ss.Big ? 0xFFFF_FFFFu : 0xFFFF;
        uint low = (newEsp - frame) & newMask;
        if (low > ss.Limit || ss.Limit - low < frame - 1) throw new CpuFault(Vector.StackFault, newSs & 0xFFFC);
        if (offset > code.Limit) throw new CpuFault(Vector.GeneralProtection, 0);
        // Parameters are read from the caller's stack before anything changes, so a fault there is the caller's.
        var parameters = new uint[paramCount];
        for (int k = 0; k < paramCount; k++) parameters[k] = PeekStack((uint)(k * size), size);
        var oldSs = _segs[SegSs];
        uint oldEsp = (uint)_gpr[RegEsp];
        try
        {
            _segs[SegSs] = ss;
            _stack32 = ss.Big;
            _cpl = level; // the frame is written with the new privilege
            SetSp(newEsp);
            Push(oldSs.Selector, size);
            Push(oldEsp, size);
            for (int k = paramCount - 1; k >= 0; k--) Push(parameters[k], size);
            Push(_segs[SegCs].Selector, size);
            Push((uint)_eip, size);
        }
        catch (CpuFault)
        {
            _segs[SegSs] = oldSs;
            _stack32 = oldSs.Big;
            _gpr[RegEsp] = oldEsp;
            ModeChanged();
            throw;
        }
        code.Selector = (ushort)((code.Selector & 0xFFFC) | level);
        _segs[SegCs] = code;
        _eip = offset;
        ModeChanged();
    }
}
