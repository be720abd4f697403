using VirtShell.Engine.Buses;

namespace VirtShell.Devices;

/// <summary>
/// The ISA chips here have 8-bit registers only. A 16- or 32-bit IN/OUT is split into byte cycles on consecutive
/// ports, as the bus does on a PC; bytes that fall outside the device's ports read as all ones and are not written.
/// </summary>
internal static class ByteWideAccess
{
    public static uint Read(ushort port, int size, BusClaim registers, Func<int, byte> readRegister) =>
        Read(port, size, (ushort)registers.Start, (int)registers.Length, readRegister);

    public static void Write(ushort port, int size, uint value, BusClaim registers, Action<int, byte> writeRegister) =>
        Write(port, size, value, (ushort)registers.Start, (int)registers.Length, writeRegister);

    public static uint Read(ushort port, int size, ushort first, int count, Func<int, byte> readRegister)
    {
        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            int offset = port + i - first;
            uint b = offset >= 0 && offset < count ? readRegister(offset) : 0xFFu;
            value |= b << (8 * i);
        }
        return value;
    }

    public static void Write(ushort port, int size, uint value, ushort first, int count, Action<int, byte> writeRegister)
    {
        for (int i = 0; i < size; i++)
        {
            int offset = port + i - first;
            if (offset >= 0 && offset < count) writeRegister(offset, (byte)(value >> (8 * i)));
        }
    }
}
