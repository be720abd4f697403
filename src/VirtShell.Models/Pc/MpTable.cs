using System.Buffers.Binary;
using System.Text;
using VirtShell.Cpu.Interpreter;
using VirtShell.Devices.Apic;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Memory;

namespace VirtShell.Models.Pc;

/// <summary>
/// The Intel MultiProcessor Specification 1.4 tables a BIOS leaves for an OS to find the APICs by (Linux reads them
/// when ACPI is off or absent): a floating pointer and a configuration table describing one CPU, the ISA bus, the
/// I/O APIC and how ISA IRQs reach it (IRQ 0 on pin 2), in virtual wire mode (no IMCR).
/// </summary>
/// <remarks>
/// They go in the last KiB of base memory (0x9FC00, where an EBDA would be), which Linux scans and the e820 map
/// (<see cref="PcMemoryMap"/>) already reports reserved; no loader writes there.
/// </remarks>
public static class MpTable
{
    public const ulong Address = PcMemoryMap.LowRamEnd;
    private const ulong ConfigAddress = Address + 16;
    private const int HeaderSize = 44;
    private const byte SpecRevision = 4;
    private const byte EntryProcessor = 0, EntryBus = 1, EntryIoApic = 2, EntryIoInterrupt = 3, EntryLocalInterrupt = 4;
    private const byte InterruptInt = 0, InterruptNmi = 1, InterruptExtInt = 3;

    /// <summary>Writes the tables when RAM reaches them (a machine of less than 640 KiB has none).</summary>
    public static void Write(GuestMemory memory)
    {
        var config = Config();
        if (!memory.IsRam(Address, 16 + (ulong)config.Length)) return;
        var pointer = new byte[16];
        Encoding.ASCII.GetBytes("_MP_", pointer);
        BinaryPrimitives.WriteUInt32LittleEndian(pointer.AsSpan(4), (uint)ConfigAddress);
        pointer[8] = 1;                // length in 16-byte paragraphs
        pointer[9] = SpecRevision;
        // Feature bytes 1 and 2 stay 0: the configuration table is present, and there is no IMCR (virtual wire mode).
        pointer[10] = Checksum(pointer);
        memory.Write(Address, pointer);
        memory.Write(ConfigAddress, config);
    }

    private static byte[] Config()
    {
        List<byte[]> entries = [Processor(), [EntryBus, 0, .. "ISA   "u8], IoApicEntry()];
        for (int irq = 0; irq < 16; irq++)
            if (irq != 2) // the cascade: no ISA device drives IRQ 2
                entries.Add(Interrupt(EntryIoInterrupt, InterruptInt, irq, ApicChipset.IoApicId, ApicChipset.IsaIrqPin(irq)));
        // LINT0 carries the 8259's INTR (ExtINT), LINT1 NMI, to every local APIC.
        entries.Add(Interrupt(EntryLocalInterrupt, InterruptExtInt, 0, 0xFF, 0));
        entries.Add(Interrupt(EntryLocalInterrupt, InterruptNmi, 0, 0xFF, 1));

        var table = new byte[HeaderSize + entries.Sum(e => e.Length)];
        Encoding.ASCII.GetBytes("PCMP", table);
        BinaryPrimitives.WriteUInt16LittleEndian(table.AsSpan(4), (ushort)table.Length);
        table[6] = SpecRevision;
        Encoding.ASCII.GetBytes("VIRTSHEL", table.AsSpan(8));
        Encoding.ASCII.GetBytes("EMULATED PC ", table.AsSpan(16));
        BinaryPrimitives.WriteUInt16LittleEndian(table.AsSpan(34), (ushort)entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(36), (uint)ApicChipset.DefaultLocalApicBase);
        int at = HeaderSize;
        foreach (var e in entries)
        {
            e.CopyTo(table, at);
            at += e.Length;
        }
        table[7] = Checksum(table);
        return table;
    }

    private static byte[] Processor()
    {
        var e = new byte[20];
        e[0] = EntryProcessor;
        e[1] = 0;                       // local APIC ID
        e[2] = (byte)LocalApic.Version;
        e[3] = 0b11;                    // enabled, bootstrap processor
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(4), InterpreterCpu.CpuidSignature);
        return e;
    }

    private static byte[] IoApicEntry()
    {
        var e = new byte[8];
        e[0] = EntryIoApic;
        e[1] = ApicChipset.IoApicId;
        e[2] = (byte)IoApic.Version;
        e[3] = 1;                       // enabled
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(4), (uint)ApicChipset.IoApicBase);
        return e;
    }

    /// <summary>An I/O or local interrupt assignment from ISA bus 0; polarity and trigger conform to the bus (edge, high).</summary>
    private static byte[] Interrupt(byte entryType, byte interruptType, int sourceIrq, byte destinationApic, int destinationPin) =>
        [entryType, interruptType, 0, 0, 0, (byte)sourceIrq, destinationApic, (byte)destinationPin];

    private static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes) sum += b;
        return (byte)-sum;
    }
}
