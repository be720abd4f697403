namespace VirtShell.Cpu.RiscV;

/// <summary>
/// The A extension. One hart, so an AMO is a read-modify-write with nothing in between; the LR reservation is
/// dropped by a store to its doubleword, an SC, or a trap.
/// </summary>
public sealed unsafe partial class RiscvCpu
{
    private ulong _reservation;
    private bool _reservationValid;

    private void Atomic(uint inst, int funct3, int rd, int rs1, int rs2)
    {
        if (funct3 != 2 && funct3 != 3) throw Illegal();
        int size = funct3 == 2 ? 4 : 8;
        uint funct5 = inst >> 27;
        ulong address = _x[rs1];
        ulong result;
        switch (funct5)
        {
            case 0x02: // LR
                {
                    if (rs2 != 0) throw Illegal();
                    if ((address & (ulong)(size - 1)) != 0) throw Trap(Exceptions.LoadMisaligned, address);
                    byte* p = HostAddress(address, Access.Load, out _);
                    if (p == null) throw Trap(Exceptions.LoadAccessFault, address);
                    result = size == 4 ? (ulong)*(int*)p : *(ulong*)p;
                    _reservation = address;
                    _reservationValid = true;
                    break;
                }
            case 0x03: // SC
                {
                    byte* p = AtomicAddress(address, size);
                    bool success = _reservationValid && _reservation == address;
                    _reservationValid = false;
                    if (success)
                    {
                        if (size == 4) *(uint*)p = (uint)_x[rs2];
                        else *(ulong*)p = _x[rs2];
                    }
                    result = success ? 0UL : 1UL;
                    break;
                }
            default:
                {
                    byte* p = AtomicAddress(address, size);
                    ulong b = _x[rs2];
                    if (size == 4)
                    {
                        int old = *(int*)p;
                        *(int*)p = (int)Amo(funct5, (ulong)(long)old, (ulong)(long)(int)b, 32);
                        result = (ulong)(long)old;
                    }
                    else
                    {
                        ulong old = *(ulong*)p;
                        *(ulong*)p = Amo(funct5, old, b, 64);
                        result = old;
                    }
                    break;
                }
        }
        if (rd != 0) _x[rd] = result;
    }

    /// <summary>The AMO's new value; 32-bit operands arrive sign-extended, and unsigned comparisons look at their low bits.</summary>
    private ulong Amo(uint funct5, ulong a, ulong b, int bits)
    {
        ulong ua = bits == 32 ? (uint)a : a, ub = bits == 32 ? (uint)b : b;
        return funct5 switch
        {
            0x01 => b,
            0x00 => a + b,
            0x04 => a ^ b,
            0x0C => a & b,
            0x08 => a | b,
            0x10 => (long)a < (long)b ? a : b,
            0x14 => (long)a > (long)b ? a : b,
            0x18 => ua < ub ? a : b,
            0x1C => ua > ub ? a : b,
            _ => throw Illegal(),
        };
    }
}
