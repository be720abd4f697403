using System.Buffers.Binary;
using VirtShell.Engine.Memory;
using VirtShell.Models.Pc;

namespace VirtShell.Tests.Models;

/// <summary>The MP tables the emulated PC leaves for an OS, read back as Linux's MP parser reads them.</summary>
public sealed class MpTableTests
{
    private static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes) sum += b;
        return sum;
    }

    [Fact]
    public void The_tables_describe_one_cpu_the_isa_bus_and_the_io_apic_with_irq0_on_pin_2()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 1 << 20);
        MpTable.Write(memory);

        var pointer = memory.Read(0x9FC00, 16);
        Assert.Equal("_MP_"u8.ToArray(), pointer[..4]);
        Assert.Equal(0, Sum(pointer));
        Assert.Equal(4, pointer[9]);
        Assert.Equal(0, pointer[12] & 0x80);                     // no IMCR: virtual wire mode
        uint configAddress = BinaryPrimitives.ReadUInt32LittleEndian(pointer.AsSpan(4));

        var header = memory.Read(configAddress, 44);
        Assert.Equal("PCMP"u8.ToArray(), header[..4]);
        int length = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(4));
        var table = memory.Read(configAddress, length);
        Assert.Equal(0, Sum(table));
        Assert.Equal(0xFEE0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(table.AsSpan(36)));

        var processors = new List<byte[]>();
        var ioApics = new List<byte[]>();
        var routes = new Dictionary<int, int>();
        int lints = 0, at = 44;
        for (int i = 0; i < BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(34)); i++)
        {
            int size = table[at] == 0 ? 20 : 8;
            var entry = table.AsSpan(at, size).ToArray();
            switch (entry[0])
            {
                case 0: processors.Add(entry); break;
                case 1: Assert.Equal("ISA   "u8.ToArray(), entry[2..8]); break;
                case 2: ioApics.Add(entry); break;
                case 3: routes[entry[5]] = entry[7]; break;
                case 4: lints++; break;
            }
            at += size;
        }
        Assert.Equal(length, at);
        Assert.Equal(3, Assert.Single(processors)[3]);          // enabled bootstrap processor
        var ioApic = Assert.Single(ioApics);
        Assert.Equal(0xFEC0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(ioApic.AsSpan(4)));
        Assert.Equal(2, routes[0]);
        Assert.Equal(4, routes[4]);
        Assert.False(routes.ContainsKey(2));
        Assert.Equal(15, routes.Count);
        Assert.Equal(2, lints);                                  // ExtINT on LINT0, NMI on LINT1
    }

    [Fact]
    public void A_machine_smaller_than_640_KiB_gets_none()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 512 << 10);
        MpTable.Write(memory);
        Assert.Equal(-1, memory.Read(0, 512 << 10).AsSpan().IndexOf("_MP_"u8));
    }
}
