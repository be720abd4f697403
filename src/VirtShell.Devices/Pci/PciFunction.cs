using System.Buffers.Binary;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Pci;

/// <summary>
/// One PCI function's type-0 configuration space (256 bytes): identity, command, 32-bit memory BARs, a capability list
/// and a legacy INTx line. What the guest may change is the command register, BAR addresses (size-masked, so the
/// usual write-all-ones probe reads back the size) and the interrupt line; everything else is read-only.
/// </summary>
public abstract class PciFunction
{
    public const int ConfigSize = 256;
    private const int Command = 0x04, Status = 0x06, HeaderType = 0x0E, Bar0 = 0x10, CapabilitiesPointer = 0x34, InterruptLine = 0x3C;
    private const ushort CommandMemory = 0x02, CommandInterruptDisable = 0x400;
    private const ushort StatusInterrupt = 0x08, StatusCapabilities = 0x10;
    private const int FirstCapability = 0x40;

    // Config space is read by the vCPU and changed by interrupts the device raises from other threads (console input).
    private readonly object _lock = new();
    private readonly byte[] _config = new byte[ConfigSize];
    private readonly bool[] _guestWritable = new bool[ConfigSize];
    private readonly uint[] _barSize = new uint[6];
    private readonly InterruptLine? _pin;
    private int _nextCapability = FirstCapability, _lastCapability;
    private bool _intx;

    /// <param name="classCode">Class, subclass and programming interface, e.g. 0x010000.</param>
    /// <param name="irq">The interrupt-controller input INTA# is routed to, or -1 for a function without an interrupt.</param>
    protected PciFunction(ushort vendor, ushort device, uint classCode, byte revision, ushort subsystemVendor, ushort subsystem,
        IInterruptController? interrupts, int irq)
    {
        var c = _config.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(c, vendor);
        BinaryPrimitives.WriteUInt16LittleEndian(c[2..], device);
        c[8] = revision;
        c[9] = (byte)classCode;
        c[10] = (byte)(classCode >> 8);
        c[11] = (byte)(classCode >> 16);
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x2C..], subsystemVendor);
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x2E..], subsystem);
        if (interrupts != null && irq >= 0)
        {
            _pin = interrupts.Connect(irq);
            c[InterruptLine] = (byte)irq; // what firmware would have written: the line INTA# is wired to
            c[0x3D] = 1;                  // INTA#
        }
    }

    /// <summary>Declares a 32-bit, non-prefetchable memory BAR of <paramref name="size"/> bytes (a power of 2) at <paramref name="address"/>.</summary>
    protected void DefineMemoryBar(int bar, uint size, uint address)
    {
        _barSize[bar] = size;
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(Bar0 + 4 * bar), address & ~(size - 1));
    }

    /// <summary>Sets the header type's multi-function bit (function 0 of a device with more functions).</summary>
    protected void MarkMultiFunction() => _config[HeaderType] |= 0x80;

    /// <summary>Appends a capability (its ID first, the next pointer filled in here); returns its offset.</summary>
    protected int AddCapability(byte id, ReadOnlySpan<byte> body)
    {
        int at = _nextCapability;
        _config[at] = id;
        body.CopyTo(_config.AsSpan(at + 2));
        if (_lastCapability == 0) _config[CapabilitiesPointer] = (byte)at;
        else _config[_lastCapability + 1] = (byte)at;
        _lastCapability = at;
        _nextCapability = (at + 2 + body.Length + 3) & ~3;
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(Status), (ushort)(StatusRegister | StatusCapabilities));
        return at;
    }

    /// <summary>Lets the guest change bytes a capability defines as read-write (stored as written).</summary>
    protected void AllowGuestWrites(int offset, int length) => _guestWritable.AsSpan(offset, length).Fill(true);

    /// <summary>
    /// Config bytes whose accesses the function answers itself (a window onto a BAR); they are served outside the
    /// config lock, since serving them may take the device's own lock.
    /// </summary>
    protected virtual bool IsForwarded(int offset) => false;
    protected virtual uint ReadForwarded(int offset, int size) => 0;
    protected virtual void WriteForwarded(int offset, int size, uint value) { }

    private ushort CommandRegister => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(Command));
    private ushort StatusRegister => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(Status));

    /// <summary>Where BAR <paramref name="bar"/> is decoded now, or null while memory decoding is off.</summary>
    public (ulong Address, ulong Size)? MemoryBar(int bar)
    {
        lock (_lock)
            return _barSize[bar] == 0 || (CommandRegister & CommandMemory) == 0
                ? null
                : (BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(Bar0 + 4 * bar)) & ~0xFu, _barSize[bar]);
    }

    public uint ReadConfig(int offset, int size)
    {
        if (offset < 0 || size is not (1 or 2 or 4) || offset + size > ConfigSize) return uint.MaxValue;
        if (IsForwarded(offset)) return ReadForwarded(offset, size);
        lock (_lock)
        {
            var bytes = _config.AsSpan(offset, size);
            return size switch
            {
                1 => bytes[0],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
                _ => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            };
        }
    }

    public void WriteConfig(int offset, int size, uint value)
    {
        if (offset < 0 || size is not (1 or 2 or 4) || offset + size > ConfigSize) return;
        if (IsForwarded(offset))
        {
            WriteForwarded(offset, size, value);
            return;
        }
        lock (_lock)
        {
            for (int i = 0; i < size; i++) WriteConfigByte(offset + i, (byte)(value >> (8 * i)));
            UpdateInterrupt();
        }
    }

    private void WriteConfigByte(int offset, byte value)
    {
        switch (offset)
        {
            case Command:
                _config[offset] = (byte)(value & CommandMemory); // memory decoding only: no I/O BARs, no bus mastering to track
                break;
            case Command + 1:
                _config[offset] = (byte)(value & (CommandInterruptDisable >> 8));
                break;
            case >= Bar0 and < Bar0 + 24:
                int bar = (offset - Bar0) / 4;
                // The low bits of a BAR are its size and type: fixed, so that writing all ones reads back -size.
                uint mask = _barSize[bar] == 0 ? 0 : ~(_barSize[bar] - 1);
                byte fixedMask = (byte)(mask >> (8 * ((offset - Bar0) % 4)));
                _config[offset] = (byte)(value & fixedMask);
                break;
            case InterruptLine:
            case var _ when _guestWritable[offset]:
                _config[offset] = value;
                break;
        }
    }

    /// <summary>The function's INTA# level; it reaches the controller unless the driver set Interrupt Disable.</summary>
    /// <summary>
    /// The configuration space and INTx level. What a subclass keeps besides (a transport's registers) it saves by
    /// implementing <see cref="IDeviceState"/> itself, or it says it has none with <see cref="IStatelessDevice"/>;
    /// <see cref="PciHostBridge"/> refuses a function that does neither.
    /// </summary>
    internal void SaveConfig(StateWriter w)
    {
        lock (_lock)
        {
            w.WriteBytes(_config);
            w.WriteBool(_intx);
            w.WriteBool(_pin?.Asserted ?? false);
        }
    }

    internal void RestoreConfig(StateReader r)
    {
        var config = r.ReadBytes(ConfigSize, "a PCI configuration space");
        r.Check(config.Length == ConfigSize, "a PCI configuration space has the wrong size");
        bool intx = r.ReadBool(), pin = r.ReadBool();
        lock (_lock)
        {
            config.CopyTo(_config);
            _intx = intx;
            _pin?.RestoreLevel(pin);
        }
    }

    protected void SetInterrupt(bool asserted)
    {
        lock (_lock)
        {
            _intx = asserted;
            UpdateInterrupt();
        }
    }

    private void UpdateInterrupt()
    {
        ushort status = (ushort)(StatusRegister & ~StatusInterrupt | (_intx ? StatusInterrupt : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(Status), status);
        _pin?.Set(_intx && (CommandRegister & CommandInterruptDisable) == 0);
    }

    public abstract ulong ReadBar(int bar, ulong offset, int size);
    public abstract void WriteBar(int bar, ulong offset, int size, ulong value);
}
