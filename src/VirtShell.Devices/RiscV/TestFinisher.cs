using VirtShell.Engine.Buses;
using VirtShell.Engine.State;

namespace VirtShell.Devices.RiscV;

/// <summary>
/// SiFive's test finisher ("sifive,test0", at 0x100000 on QEMU's virt board): a 32-bit write of 0x5555 powers the
/// machine off, 0x3333 with an exit code in the high 16 bits reports a failure and powers off, 0x7777 resets.
/// OpenSBI's system reset and Linux's syscon-poweroff use it; so do the conformance programs.
/// </summary>
/// <param name="end">Ends the run: (reset?, exit code).</param>
public sealed class TestFinisher(ulong baseAddress, Action<bool, int> end) : IMmioDevice, IStatelessDevice
{
    public const ulong Size = 0x1000;
    public const uint Pass = 0x5555, Fail = 0x3333, Reset = 0x7777;

    public ulong ReadMmio(ulong address, int size) => 0;

    public void WriteMmio(ulong address, int size, ulong value)
    {
        if (address != baseAddress) return;
        switch ((uint)value & 0xFFFF)
        {
            case Pass: end(false, 0); break;
            case Fail: end(false, (int)((uint)value >> 16)); break;
            case Reset: end(true, 0); break;
        }
    }
}
