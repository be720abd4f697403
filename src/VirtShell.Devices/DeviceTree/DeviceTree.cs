using System.Buffers.Binary;
using System.Text;

namespace VirtShell.Devices;

/// <summary>A device-tree node: properties in order, then children.</summary>
public sealed class DeviceTreeNode(string name)
{
    private readonly List<(string Name, byte[] Value)> _properties = [];
    private readonly List<DeviceTreeNode> _children = [];

    public string Name { get; } = name;

    public DeviceTreeNode Child(string name)
    {
        var node = new DeviceTreeNode(name);
        _children.Add(node);
        return node;
    }

    /// <summary>A property of big-endian 32-bit cells.</summary>
    public DeviceTreeNode Cells(string name, params uint[] cells)
    {
        var value = new byte[4 * cells.Length];
        for (int i = 0; i < cells.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(4 * i), cells[i]);
        _properties.Add((name, value));
        return this;
    }

    /// <summary>A reg-style property of 64-bit values as pairs of cells (#address-cells = #size-cells = 2).</summary>
    public DeviceTreeNode Pairs(string name, params ulong[] values) =>
        Cells(name, values.SelectMany(v => new[] { (uint)(v >> 32), (uint)v }).ToArray());

    /// <summary>A string, or a string list (each NUL-terminated).</summary>
    public DeviceTreeNode Strings(string name, params string[] values)
    {
        _properties.Add((name, Encoding.ASCII.GetBytes(string.Concat(values.Select(v => v + "\0")))));
        return this;
    }

    /// <summary>A property with no value (a flag such as interrupt-controller).</summary>
    public DeviceTreeNode Flag(string name)
    {
        _properties.Add((name, []));
        return this;
    }

    internal void Write(List<byte> structure, Dictionary<string, int> names, List<byte> strings)
    {
        Token(structure, 1);
        Padded(structure, Encoding.ASCII.GetBytes(Name + "\0"));
        foreach (var (name, value) in _properties)
        {
            if (!names.TryGetValue(name, out int offset))
            {
                offset = strings.Count;
                names[name] = offset;
                strings.AddRange(Encoding.ASCII.GetBytes(name + "\0"));
            }
            Token(structure, 3);
            Token(structure, (uint)value.Length);
            Token(structure, (uint)offset);
            Padded(structure, value);
        }
        foreach (var child in _children) child.Write(structure, names, strings);
        Token(structure, 2);
    }

    internal static void Token(List<byte> bytes, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        bytes.AddRange(b.ToArray());
    }

    private static void Padded(List<byte> bytes, byte[] value)
    {
        bytes.AddRange(value);
        while (bytes.Count % 4 != 0) bytes.Add(0);
    }
}

/// <summary>
/// A flattened device tree blob (devicetree specification v0.4, chapter 5): header, an empty memory reservation
/// block, the structure block and the strings block, version 17.
/// </summary>
public static class DeviceTree
{
    private const uint Magic = 0xD00D_FEED;
    private const int HeaderSize = 40;

    public static byte[] Flatten(DeviceTreeNode root)
    {
        var structure = new List<byte>();
        var strings = new List<byte>();
        root.Write(structure, [], strings);
        DeviceTreeNode.Token(structure, 9);
        int reserve = HeaderSize, structureOffset = reserve + 16, stringsOffset = structureOffset + structure.Count;
        int total = (stringsOffset + strings.Count + 7) & ~7;
        var blob = new byte[total];
        uint[] header = [Magic, (uint)total, (uint)structureOffset, (uint)stringsOffset, (uint)reserve, 17, 16, 0,
            (uint)strings.Count, (uint)structure.Count];
        for (int i = 0; i < header.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(blob.AsSpan(4 * i), header[i]);
        structure.CopyTo(blob, structureOffset);
        strings.CopyTo(blob, stringsOffset);
        return blob;
    }
}
