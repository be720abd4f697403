using VirtShell.Engine.Buses;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Display;

/// <summary>
/// The VGA's I/O registers (0x3B0-0x3DF) as far as a VGA BIOS needs them to set text mode 3 and move the cursor:
/// the indexed register files (sequencer, graphics controller, CRT controller, attribute controller with its
/// index/data flip-flop), the miscellaneous output register and the DAC, each reading back what was written.
/// Nothing is drawn; the CRT controller's cursor location and display start are reported to
/// <paramref name="cursorMoved"/> (both in character cells from the start of video memory) each time the cursor's
/// low byte, which a BIOS writes last, is set.
/// Only the vCPU thread reaches it (port accesses), so it takes no lock.
/// </summary>
public sealed class VgaRegisters(Action<int, int> cursorMoved) : IPortDevice, IDeviceState
{
    public const ushort FirstPort = 0x3B0;
    public const int PortCount = 0x30;
    private const byte CursorLocationHigh = 0x0E, CursorLocationLow = 0x0F, StartAddressHigh = 0x0C, StartAddressLow = 0x0D;
    /// <summary>Input status 1: display enable inactive (bit 0) and vertical retrace (bit 3).</summary>
    private const byte Retrace = 0x09;

    private readonly byte[] _sequencer = new byte[8], _graphics = new byte[16], _crtc = new byte[32], _attribute = new byte[32];
    private readonly byte[] _dac = new byte[256 * 3];
    private byte _sequencerIndex, _graphicsIndex, _crtcIndex, _attributeIndex, _misc, _featureControl, _pelMask = 0xFF;
    private bool _attributeData;
    private int _dacReadIndex, _dacWriteIndex;
    private byte _status;

    /// <summary>
    /// Every register; the screen is guest RAM. The console capture behind <c>cursorMoved</c> starts afresh, so the
    /// first cursor move after a restore may show a row again.
    /// </summary>
    public void SaveState(StateWriter writer)
    {
        foreach (var bank in (ReadOnlySpan<byte[]>)[_sequencer, _graphics, _crtc, _attribute, _dac]) writer.WriteBytes(bank);
        foreach (byte b in (ReadOnlySpan<byte>)[_sequencerIndex, _graphicsIndex, _crtcIndex, _attributeIndex, _misc, _featureControl, _pelMask, _status])
            writer.WriteByte(b);
        writer.WriteBool(_attributeData);
        writer.WriteInt32(_dacReadIndex);
        writer.WriteInt32(_dacWriteIndex);
    }

    public void RestoreState(StateReader reader)
    {
        foreach (var bank in (ReadOnlySpan<byte[]>)[_sequencer, _graphics, _crtc, _attribute, _dac])
        {
            var saved = reader.ReadBytes(bank.Length, "a VGA register bank");
            reader.Check(saved.Length == bank.Length, "a VGA register bank has the wrong size");
            saved.CopyTo(bank);
        }
        (_sequencerIndex, _graphicsIndex, _crtcIndex, _attributeIndex) = (reader.ReadByte(), reader.ReadByte(), reader.ReadByte(), reader.ReadByte());
        (_misc, _featureControl, _pelMask, _status) = (reader.ReadByte(), reader.ReadByte(), reader.ReadByte(), reader.ReadByte());
        _attributeData = reader.ReadBool();
        _dacReadIndex = reader.ReadInt32(0, int.MaxValue, "the DAC read index");
        _dacWriteIndex = reader.ReadInt32(0, int.MaxValue, "the DAC write index");
    }

    public uint ReadPort(ushort port, int size) =>
        ByteWideAccess.Read(port, size, FirstPort, PortCount, ReadRegister);

    // A word write to an index port (OUT DX, AX) sets the index and then the data register after it.
    public void WritePort(ushort port, int size, uint value) =>
        ByteWideAccess.Write(port, size, value, FirstPort, PortCount, WriteRegister);

    private byte ReadRegister(int offset)
    {
        switch (FirstPort + offset)
        {
            case 0x3C0: return _attributeIndex;
            case 0x3C1: return _attribute[_attributeIndex & 0x1F];
            case 0x3C2: return 0;
            case 0x3C4: return _sequencerIndex;
            case 0x3C5: return _sequencer[_sequencerIndex & 7];
            case 0x3C6: return _pelMask;
            case 0x3C7: return 0x03;
            case 0x3C8: return (byte)(_dacWriteIndex / 3);
            case 0x3C9: return _dac[_dacReadIndex++ % _dac.Length];
            case 0x3CA: return _featureControl;
            case 0x3CC: return _misc;
            case 0x3CE: return _graphicsIndex;
            case 0x3CF: return _graphics[_graphicsIndex & 0x0F];
            case 0x3B4 or 0x3D4: return _crtcIndex;
            case 0x3B5 or 0x3D5: return _crtc[_crtcIndex & 0x1F];
            case 0x3BA or 0x3DA:
                // Reading input status 1 resets the attribute flip-flop; the retrace bits toggle so that a BIOS
                // waiting for a retrace to start or end sees both.
                _attributeData = false;
                _status ^= Retrace;
                return _status;
            default: return 0xFF;
        }
    }

    private void WriteRegister(int offset, byte value)
    {
        switch (FirstPort + offset)
        {
            case 0x3C0:
                if (_attributeData) _attribute[_attributeIndex & 0x1F] = value;
                else _attributeIndex = value;
                _attributeData = !_attributeData;
                break;
            case 0x3C2: _misc = value; break;
            case 0x3C4: _sequencerIndex = value; break;
            case 0x3C5: _sequencer[_sequencerIndex & 7] = value; break;
            case 0x3C6: _pelMask = value; break;
            case 0x3C7: _dacReadIndex = value * 3; break;
            case 0x3C8: _dacWriteIndex = value * 3; break;
            case 0x3C9: _dac[_dacWriteIndex++ % _dac.Length] = value; break;
            case 0x3CE: _graphicsIndex = value; break;
            case 0x3CF: _graphics[_graphicsIndex & 0x0F] = value; break;
            case 0x3B4 or 0x3D4: _crtcIndex = value; break;
            case 0x3B5 or 0x3D5:
                _crtc[_crtcIndex & 0x1F] = value;
                if ((_crtcIndex & 0x1F) == CursorLocationLow)
                    cursorMoved((_crtc[CursorLocationHigh] << 8) | value, (_crtc[StartAddressHigh] << 8) | _crtc[StartAddressLow]);
                break;
            case 0x3BA or 0x3DA: _featureControl = value; break;
        }
    }
}
