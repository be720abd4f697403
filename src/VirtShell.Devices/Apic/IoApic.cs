using VirtShell.Engine.State;

namespace VirtShell.Devices.Apic;

/// <summary>
/// The registers of an 82093AA-style I/O APIC: IOREGSEL at offset 0, IOWIN at 0x10; ID, version (24 redirection
/// entries), arbitration ID and the redirection table. Edge-triggered pins deliver on a rising edge while unmasked;
/// level-triggered pins deliver while asserted and set remote IRR until the local APIC broadcasts the vector's EOI.
/// Only the register model: <see cref="ApicChipset"/> claims its window and serialises every call.
/// </summary>
/// <remarks>
/// The input polarity bit is kept and read back but not applied: pins are given as asserted or not, as QEMU does.
/// Delivery modes other than fixed and lowest priority (SMI, NMI, INIT, ExtINT) are not delivered.
/// </remarks>
public sealed class IoApic
{
    public const int Pins = 24;
    public const uint Version = 0x11;
    public const int RegSelect = 0x00, RegWindow = 0x10;

    private const int IndexId = 0, IndexVersion = 1, IndexArbitration = 2, IndexRedirection = 0x10;
    private const ulong Masked = 1 << 16, Level = 1 << 15, RemoteIrr = 1 << 14;
    private const ulong LogicalDestination = 1 << 11;
    /// <summary>Vector, delivery mode, destination mode, polarity, trigger, mask, destination.</summary>
    private const ulong Writable = 0xFF00_0000_0001_AFFF;

    private readonly ulong[] _redirection = new ulong[Pins];
    private readonly bool[] _input = new bool[Pins];
    private readonly LocalApic _cpu;
    private uint _select, _id;

    /// <param name="cpu">The one local APIC its messages go to.</param>
    public IoApic(LocalApic cpu)
    {
        _cpu = cpu;
        for (int i = 0; i < Pins; i++) _redirection[i] = Masked;
    }

    public void SaveState(StateWriter w)
    {
        foreach (ulong entry in _redirection) w.WriteUInt64(entry);
        foreach (bool input in _input) w.WriteBool(input);
        w.WriteUInt32(_select);
        w.WriteUInt32(_id);
    }

    public void RestoreState(StateReader r)
    {
        for (int i = 0; i < Pins; i++) _redirection[i] = r.ReadUInt64();
        for (int i = 0; i < Pins; i++) _input[i] = r.ReadBool();
        _select = r.ReadUInt32();
        _id = r.ReadUInt32();
    }

    /// <summary>A pin's input: <paramref name="asserted"/> is the line's active state.</summary>
    public void SetInput(int pin, bool asserted)
    {
        bool rising = asserted && !_input[pin];
        _input[pin] = asserted;
        ulong entry = _redirection[pin];
        if ((entry & Level) != 0 ? asserted : rising) Deliver(pin);
    }

    /// <summary>The local APIC's EOI for a level-triggered <paramref name="vector"/>: remote IRR clears, a pin still asserted delivers again.</summary>
    public void EndOfInterrupt(int vector)
    {
        for (int pin = 0; pin < Pins; pin++)
        {
            ulong entry = _redirection[pin];
            if ((entry & 0xFF) != (ulong)vector || (entry & RemoteIrr) == 0) continue;
            _redirection[pin] = entry & ~RemoteIrr;
            if ((entry & Level) != 0 && _input[pin]) Deliver(pin);
        }
    }

    public uint Read(int offset) => offset switch
    {
        RegSelect => _select,
        RegWindow => ReadIndirect(_select),
        _ => 0,
    };

    public void Write(int offset, uint value)
    {
        if (offset == RegSelect) _select = value & 0xFF;
        else if (offset == RegWindow) WriteIndirect(_select, value);
    }

    private uint ReadIndirect(uint index)
    {
        switch (index)
        {
            case IndexId: return _id;
            case IndexVersion: return Version | (Pins - 1) << 16;
            case IndexArbitration: return _id;
            case >= IndexRedirection and < IndexRedirection + 2 * Pins:
                ulong entry = _redirection[(index - IndexRedirection) >> 1];
                return (index & 1) == 0 ? (uint)entry : (uint)(entry >> 32);
            default: return 0;
        }
    }

    private void WriteIndirect(uint index, uint value)
    {
        if (index == IndexId)
        {
            _id = value & 0x0F00_0000;
            return;
        }
        if (index is < IndexRedirection or >= IndexRedirection + 2 * Pins) return; // version and arbitration are read-only
        int pin = (int)(index - IndexRedirection) >> 1;
        ulong old = _redirection[pin];
        ulong written = (index & 1) == 0 ? (old & ~0xFFFF_FFFFUL) | value : (old & 0xFFFF_FFFF) | (ulong)value << 32;
        ulong entry = (written & Writable) | (old & RemoteIrr);
        if ((entry & Level) == 0) entry &= ~RemoteIrr; // remote IRR means nothing for an edge-triggered pin
        _redirection[pin] = entry;
        // Unmasking a level-triggered pin that is still asserted delivers it, as the line is sampled again.
        if ((entry & Level) != 0 && _input[pin]) Deliver(pin);
    }

    private void Deliver(int pin)
    {
        ulong entry = _redirection[pin];
        bool level = (entry & Level) != 0;
        if ((entry & Masked) != 0 || (level && (entry & RemoteIrr) != 0)) return;
        int mode = (int)(entry >> 8 & 7);
        if (mode is not (LocalApic.DeliveryFixed or LocalApic.DeliveryLowest)) return;
        if (!_cpu.IsDestination((byte)(entry >> 56), (entry & LogicalDestination) != 0)) return;
        _cpu.Accept((int)(entry & 0xFF), level);
        if (level) _redirection[pin] = entry | RemoteIrr;
    }
}
