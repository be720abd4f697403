using VirtShell.Engine.State;

namespace VirtShell.Cpu.RiscV;

/// <summary>
/// The hart in a saved state (section <c>cpu</c>): the integer and floating-point registers, pc, privilege, every CSR
/// it keeps, the LR reservation, the retired-instruction count and whether it waits in WFI. The external-interrupt
/// inputs are not here: the PLIC's section drives them again. The TLBs are not state; a restore empties them.
/// </summary>
public sealed unsafe partial class RiscvCpu : IDeviceState
{
    public void SaveState(StateWriter writer)
    {
        for (int i = 0; i < 32; i++) writer.WriteUInt64(_x[i]);
        for (int i = 0; i < 32; i++) writer.WriteUInt64(_f[i]);
        writer.WriteUInt64(_pc);
        writer.WriteByte((byte)_priv);
        writer.WriteInt64(_instret);
        writer.WriteBool(_wfi);
        foreach (ulong csr in (ReadOnlySpan<ulong>)[_mstatus, _medeleg, _mideleg, _mie, _mip, _mtvec, _mscratch, _mepc, _mcause, _mtval,
            _mcounteren, _stvec, _sscratch, _sepc, _scause, _stval, _satp, _scounteren, _pmpcfg0, _pmpcfg2, _fflags, _frm, _menvcfg, _stimecmp])
            writer.WriteUInt64(csr);
        foreach (ulong address in _pmpaddr) writer.WriteUInt64(address);
        writer.WriteUInt64(_reservation);
        writer.WriteBool(_reservationValid);
    }

    public void RestoreState(StateReader reader)
    {
        for (int i = 0; i < 32; i++) _x[i] = reader.ReadUInt64();
        reader.Check(_x[0] == 0, "x0 is not zero");
        for (int i = 0; i < 32; i++) _f[i] = reader.ReadUInt64();
        _pc = reader.ReadUInt64();
        reader.Check((_pc & 1) == 0, $"pc {_pc:x} is odd");
        byte privilege = reader.ReadByte();
        reader.Check(Enum.IsDefined((Privilege)privilege), $"privilege level {privilege} does not exist");
        _priv = (Privilege)privilege;
        _instret = reader.ReadInt64();
        _wfi = reader.ReadBool();
        _mstatus = reader.ReadUInt64();
        reader.Check((_mstatus & ~(Status.MachineWritable | Status.Uxl | Status.Sxl | Status.Sd)) == 0, $"mstatus {_mstatus:x} has bits the hart cannot set");
        _medeleg = reader.ReadUInt64();
        _mideleg = reader.ReadUInt64();
        _mie = reader.ReadUInt64();
        _mip = reader.ReadUInt64();
        _mtvec = reader.ReadUInt64();
        _mscratch = reader.ReadUInt64();
        _mepc = reader.ReadUInt64();
        _mcause = reader.ReadUInt64();
        _mtval = reader.ReadUInt64();
        _mcounteren = reader.ReadUInt64();
        _stvec = reader.ReadUInt64();
        _sscratch = reader.ReadUInt64();
        _sepc = reader.ReadUInt64();
        _scause = reader.ReadUInt64();
        _stval = reader.ReadUInt64();
        _satp = reader.ReadUInt64();
        _scounteren = reader.ReadUInt64();
        _pmpcfg0 = reader.ReadUInt64();
        _pmpcfg2 = reader.ReadUInt64();
        _fflags = reader.ReadUInt64();
        _frm = reader.ReadUInt64();
        reader.Check(_fflags < 32 && _frm < 8, $"fcsr fields out of range (fflags {_fflags:x}, frm {_frm})");
        _menvcfg = reader.ReadUInt64();
        reader.Check((_menvcfg & ~Envcfg.Stce) == 0, $"menvcfg {_menvcfg:x} has bits the hart does not implement");
        _stimecmp = reader.ReadUInt64();
        for (int i = 0; i < _pmpaddr.Length; i++) _pmpaddr[i] = reader.ReadUInt64();
        _reservation = reader.ReadUInt64();
        _reservationValid = reader.ReadBool();
        FlushTlb();
        _sliceEnd = true;
    }
}
