using System.Buffers.Binary;
using System.Text;
using VirtShell.Engine.Buses;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Platform;

/// <summary>
/// QEMU's firmware configuration interface (fw_cfg) on its PC ports, the way SeaBIOS finds what the machine is: a
/// 16-bit selector at 0x510 picks an item, each read of the data port 0x511 returns the item's next byte (zero past
/// its end). Items are the fixed keys (signature "QEMU", interface ID, CPU count, the no-graphics flag) and named
/// files, listed in the file directory (key 0x19: a big-endian count, then per file its big-endian size, selector
/// and a 56-byte name). Read-only: writes to the data port are ignored, as on QEMU's machines since 2.4.
/// </summary>
/// <remarks>
/// The interface ID says "traditional interface" only, so firmware reads through the data port and never looks for
/// the DMA registers at 0x514. An unknown key reads as an empty item, as on QEMU.
/// </remarks>
public sealed class FwCfg : IPortDevice, IDeviceState
{
    public const ushort SelectorPort = 0x510, DataPort = 0x511;
    public const int PortCount = 2;
    public const ushort SignatureKey = 0x00, IdKey = 0x01, NoGraphicKey = 0x04, CpuCountKey = 0x05, BootMenuKey = 0x0E,
        MaxCpusKey = 0x0F, FileDirectoryKey = 0x19, FirstFileKey = 0x20;
    /// <summary>Bit 0 of the ID: the traditional (port) interface; bit 1, DMA, is not offered.</summary>
    public const uint TraditionalInterface = 1;
    public const int FileNameLength = 56, DirectoryEntrySize = 64;

    private readonly object _lock = new();
    private readonly Dictionary<ushort, byte[]> _items = [];
    private readonly List<(string Name, ushort Key, int Size)> _files = [];
    private byte[] _selected = [];
    private ushort _key;
    private int _offset;

    /// <param name="noGraphic">Tells SeaBIOS there is no display, so it puts its screen on COM1 (its "sercon").</param>
    public FwCfg(int cpus = 1, bool noGraphic = false)
    {
        _items[SignatureKey] = "QEMU"u8.ToArray();
        _items[IdKey] = LittleEndian(TraditionalInterface, 4);
        _items[CpuCountKey] = LittleEndian((uint)cpus, 2);
        _items[MaxCpusKey] = LittleEndian((uint)cpus, 2);
        _items[NoGraphicKey] = LittleEndian(noGraphic ? 1u : 0u, 2);
        _items[BootMenuKey] = LittleEndian(0, 2);
        _items[FileDirectoryKey] = Directory();
        Select(SignatureKey);
    }

    /// <summary>Adds a named file (e.g. <c>etc/e820</c>, <c>bootorder</c>) under the next free selector.</summary>
    public void AddFile(string name, byte[] contents)
    {
        if (Encoding.ASCII.GetByteCount(name) >= FileNameLength) throw new ArgumentException($"fw_cfg file name '{name}' is longer than {FileNameLength - 1} bytes", nameof(name));
        lock (_lock)
        {
            if (_files.Any(f => f.Name == name)) throw new ArgumentException($"fw_cfg already has a file '{name}'", nameof(name));
            var key = (ushort)(FirstFileKey + _files.Count);
            _files.Add((name, key, contents.Length));
            _items[key] = contents;
            _items[FileDirectoryKey] = Directory();
        }
    }

    /// <summary>The e820 table QEMU hands SeaBIOS as <c>etc/e820</c>: entries of address, length (64-bit) and type (32-bit), little-endian.</summary>
    public static byte[] E820Table(IEnumerable<(ulong Address, ulong Length, uint Type)> entries)
    {
        var list = entries.ToList();
        var table = new byte[list.Count * 20];
        for (int i = 0; i < list.Count; i++)
        {
            var span = table.AsSpan(i * 20);
            BinaryPrimitives.WriteUInt64LittleEndian(span, list[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(span[8..], list[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(span[16..], list[i].Type);
        }
        return table;
    }

    public void Register(IoPortBus ports) => ports.Register(SelectorPort, PortCount, this, "fw_cfg (QEMU firmware configuration)");

    public uint ReadPort(ushort port, int size)
    {
        lock (_lock)
        {
            if (port != DataPort) return size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => uint.MaxValue };
            // A wider read at the data port returns that many bytes in order, as QEMU's does.
            uint value = 0;
            for (int i = 0; i < size; i++) value |= (uint)NextByte() << (8 * i);
            return value;
        }
    }

    public void WritePort(ushort port, int size, uint value)
    {
        if (port != SelectorPort) return;
        lock (_lock) Select((ushort)value);
    }

    private void Select(ushort key)
    {
        _key = key;
        _selected = _items.TryGetValue(key, out var item) ? item : [];
        _offset = 0;
    }

    /// <summary>The selected item and how far it was read; the items are the definition's.</summary>
    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            writer.WriteUInt16(_key);
            writer.WriteInt32(_offset);
        }
    }

    public void RestoreState(StateReader reader)
    {
        ushort key = reader.ReadUInt16();
        int offset = reader.ReadInt32(0, int.MaxValue, "the fw_cfg read offset");
        lock (_lock)
        {
            Select(key);
            _offset = offset;
        }
    }

    private byte NextByte() => _offset < _selected.Length ? _selected[_offset++] : (byte)0;

    private byte[] Directory()
    {
        var directory = new byte[4 + _files.Count * DirectoryEntrySize];
        BinaryPrimitives.WriteUInt32BigEndian(directory, (uint)_files.Count);
        for (int i = 0; i < _files.Count; i++)
        {
            var entry = directory.AsSpan(4 + i * DirectoryEntrySize, DirectoryEntrySize);
            BinaryPrimitives.WriteUInt32BigEndian(entry, (uint)_files[i].Size);
            BinaryPrimitives.WriteUInt16BigEndian(entry[4..], _files[i].Key);
            Encoding.ASCII.GetBytes(_files[i].Name, entry[8..]);
        }
        return directory;
    }

    private static byte[] LittleEndian(uint value, int size)
    {
        var bytes = new byte[size];
        for (int i = 0; i < size; i++) bytes[i] = (byte)(value >> (8 * i));
        return bytes;
    }
}
