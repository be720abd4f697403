using System.Diagnostics;
using VirtShell.Devices;
using VirtShell.Devices.Apic;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;

namespace VirtShell.Tests.Devices;

/// <summary>The emulated PC's interrupt controllers as the CPU and the guest see them: the APICs through MMIO, the 8259 pair through ports.</summary>
internal sealed class ApicTestRig : IDisposable
{
    public const ulong Lapic = ApicChipset.DefaultLocalApicBase, IoApic = ApicChipset.IoApicBase;
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    public WakeSignal Wake { get; } = new();
    public IoPortBus Ports { get; } = new();
    public MmioBus Mmio { get; } = new();
    public Pic8259Pair Pic { get; }
    public ApicChipset Apics { get; }

    public ApicTestRig()
    {
        Pic = new Pic8259Pair(Wake);
        Pic.Register(Ports);
        Apics = new ApicChipset(Pic, Wake, Mmio);
        Apics.Register();
    }

    public uint Read(int register) => (uint)Mmio.Read(Lapic + (ulong)register, 4);
    public void Write(int register, uint value) => Mmio.Write(Lapic + (ulong)register, 4, value);

    public uint ReadIo(int index)
    {
        Mmio.Write(IoApic, 4, (uint)index);
        return (uint)Mmio.Read(IoApic + 0x10, 4);
    }

    public void WriteIo(int index, uint value)
    {
        Mmio.Write(IoApic, 4, (uint)index);
        Mmio.Write(IoApic + 0x10, 4, value);
    }

    /// <summary>Redirection entry of <paramref name="pin"/>, high half then low half (as drivers write it, masked last).</summary>
    public void Redirect(int pin, uint low, byte destination = 0)
    {
        WriteIo(0x10 + 2 * pin + 1, (uint)destination << 24);
        WriteIo(0x10 + 2 * pin, low);
    }

    /// <summary>A bit of the ISR, TMR or IRR (register base 0x100, 0x180, 0x200).</summary>
    public bool Bit(int registerBase, int vector) => (Read(registerBase + (vector >> 5) * 0x10) & 1u << (vector & 31)) != 0;

    public void SelfIpi(int vector) => Write(LocalApic.RegIcrLow, 1 << 18 | (uint)vector);

    public void Eoi() => Write(LocalApic.RegEoi, 0);

    /// <summary>Waits, without a time assertion, until the CPU would be interrupted (or gives up after <see cref="Patience"/>).</summary>
    public bool WaitForPending()
    {
        var clock = Stopwatch.StartNew();
        while (!Apics.HasPendingInterrupt)
        {
            if (clock.Elapsed > Patience) return false;
            Wake.Wait(TimeSpan.FromMilliseconds(20));
        }
        return true;
    }

    /// <summary>The 8259 pair as a BIOS leaves it: vectors 08h and 70h, cascade on IRQ 2, everything unmasked.</summary>
    public void InitPicLikeBios()
    {
        byte[][] writes = [[0x20, 0x11], [0x21, 0x08], [0x21, 0x04], [0x21, 0x01], [0xA0, 0x11], [0xA1, 0x70], [0xA1, 0x02], [0xA1, 0x01], [0x21, 0], [0xA1, 0]];
        foreach (var w in writes) Ports.Write(w[0], 1, w[1]);
    }

    public void Dispose()
    {
        Apics.Dispose();
        Wake.Dispose();
    }
}
