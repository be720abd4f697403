using System.Diagnostics;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Apic;

/// <summary>
/// The host wiring of a one-CPU APIC system: the local APIC's and the I/O APIC's MMIO windows, the local APIC timer's
/// thread, ISA interrupt lines routed to both the 8259 pair and the I/O APIC, and the CPU's side of it all
/// (<see cref="ILocalApic"/>): the APIC's own interrupts first, then the 8259's through LINT0 in virtual wire mode.
/// </summary>
/// <remarks>
/// One lock covers both APICs (so the EOI broadcast and redelivery need no lock order between them); lock order is
/// device → this, and the 8259 is called only outside it (it calls nothing back but the wake signal). The CPU polls
/// <see cref="HasPendingInterrupt"/> between instructions, so that reads volatile fields and the 8259's output.
/// </remarks>
public sealed class ApicChipset : ILocalApic, IInterruptController, IMmioDevice, IDeviceState, IDisposable
{
    public const ulong DefaultLocalApicBase = 0xFEE0_0000, IoApicBase = 0xFEC0_0000, WindowSize = 0x1000;
    public const string LocalApicOwner = "local APIC", IoApicOwner = "I/O APIC";

    /// <summary>The I/O APIC's ID as firmware leaves it and the MP table gives it (the CPU's local APIC is 0).</summary>
    public const byte IoApicId = 1;

    /// <summary>The windows every PC has at their reset addresses, whoever emulates them (KVM's in-kernel APICs too).</summary>
    public static IReadOnlyList<(ulong Start, ulong Length, string Owner)> Windows { get; } =
        [(IoApicBase, WindowSize, IoApicOwner), (DefaultLocalApicBase, WindowSize, LocalApicOwner)];

    /// <summary>The ISA IRQ the 8254 drives reaches the I/O APIC on pin 2, as on a PC (pin 0 is the 8259's INTR).</summary>
    public const int TimerIrqPin = 2;

    private const ulong BaseBsp = 1 << 8, BaseEnable = 1 << 11;
    /// <summary>Bits 12-35: the page base within the 36 physical address bits CPUID implies (no leaf 80000008h).</summary>
    private const ulong BaseAddressMask = 0x0000_000F_FFFF_F000;

    private readonly object _lock = new();
    private readonly LocalApic _local;
    private readonly IoApic _io;
    private readonly Pic8259Pair _pic;
    private readonly WakeSignal _wake;
    private readonly MmioBus _mmio;
    private readonly DeadlineTimer _timer;
    private readonly InterruptInputs _inputs;
    private ulong _baseMsr = DefaultLocalApicBase | BaseBsp | BaseEnable;
    private bool _localMapped;
    private volatile bool _apicPending;
    private volatile bool _extIntOpen;
    private volatile bool _nmiPending;

    public ApicChipset(Pic8259Pair pic, WakeSignal wake, MmioBus mmio)
    {
        _pic = pic;
        _wake = wake;
        _mmio = mmio;
        _inputs = new InterruptInputs(IoApic.Pins, SetIrq);
        _local = new LocalApic(vector => _io!.EndOfInterrupt(vector)); // _io is set on the next line, before any EOI
        _io = new IoApic(_local);
        _timer = new DeadlineTimer(_lock, "local APIC timer", (due, now) =>
        {
            _local.TimerDue(due, now);
            Update();
            return _local.TimerDeadline;
        });
    }

    /// <summary>Claims both windows and sets the APICs up as firmware leaves them (<see cref="SetUpAsFirmware"/>).</summary>
    public void Register()
    {
        _mmio.Register(IoApicBase, WindowSize, this, IoApicOwner);
        MapLocalApic();
        SetUpAsFirmware();
    }

    /// <summary>
    /// What the MP specification asks of a BIOS for virtual wire mode: the local APIC software-enabled, LINT0 ExtINT
    /// (the 8259 passes through), LINT1 NMI; and the I/O APIC given the ID its MP table entry names. Guests that know
    /// no APIC keep using the 8259 as before.
    /// </summary>
    private void SetUpAsFirmware()
    {
        lock (_lock)
        {
            long now = Stopwatch.GetTimestamp();
            _local.Write(LocalApic.RegSvr, LocalApic.SvrEnabled | 0xFF, now);
            _local.Write(LocalApic.RegLvtLint0, LocalApic.DeliveryExtInt << 8, now);
            _local.Write(LocalApic.RegLvtLint1, LocalApic.DeliveryNmi << 8, now);
            _io.Write(IoApic.RegSelect, 0);
            _io.Write(IoApic.RegWindow, (uint)IoApicId << 24);
            Update();
        }
    }

    // ---- the CPU's side ----

    public ulong BaseMsr { get { lock (_lock) return _baseMsr; } }

    public bool Enabled { get { lock (_lock) return (_baseMsr & BaseEnable) != 0; } }

    public bool TryWriteBaseMsr(ulong value)
    {
        if ((value & ~(BaseAddressMask | BaseEnable | BaseBsp)) != 0) return false;
        lock (_lock)
        {
            value = (value & ~BaseBsp) | BaseBsp; // the only CPU is the bootstrap processor
            bool wasEnabled = (_baseMsr & BaseEnable) != 0, enabled = (value & BaseEnable) != 0;
            if (_localMapped) _mmio.Unregister(this, _baseMsr & BaseAddressMask);
            _localMapped = false;
            // Disabled globally the APIC is gone; enabled again it starts from its power-up state (SDM 11.4.3).
            if (wasEnabled != enabled)
            {
                _local.Reset();
                _timer.Schedule(_local.TimerDeadline);
            }
            _baseMsr = value;
            Update();
        }
        MapLocalApic();
        return true;
    }

    public bool HasPendingInterrupt => _apicPending || (_extIntOpen && _pic.HasPendingInterrupt);

    public int AcknowledgeInterrupt()
    {
        lock (_lock)
        {
            int vector = _local.Acknowledge();
            Update();
            if (vector >= 0) return vector;
        }
        // ExtINT: the 8259 answers the INTA cycle itself, outside this lock.
        return _extIntOpen ? _pic.AcknowledgeInterrupt() : -1;
    }

    public bool HasPendingNmi => _nmiPending;

    public bool AcknowledgeNmi()
    {
        lock (_lock)
        {
            bool taken = _local.NmiPending;
            _local.NmiPending = false;
            Update();
            return taken;
        }
    }

    // ---- the devices' side ----

    public InterruptLine Connect(int irq) => _inputs.Connect(irq);

    /// <summary>An ISA IRQ: to the 8259 pair and to the I/O APIC pin a PC wires it to; lines 16–23 reach the I/O APIC only.</summary>
    public void SetIrq(int irq, bool level)
    {
        if (irq < 16) _pic.SetIrq(irq, level);
        lock (_lock)
        {
            _io.SetInput(IsaIrqPin(irq), level);
            Update();
        }
    }

    /// <summary>IRQ 0 on pin 2; IRQ 2, which on the AT bus is the cascade, arrives as IRQ 9 (as in the 8259 pair).</summary>
    public static int IsaIrqPin(int irq) => irq switch { 0 => TimerIrqPin, 2 => 9, _ => irq };

    // ---- MMIO ----

    public ulong ReadMmio(ulong address, int size)
    {
        var (window, offset, shift) = Locate(address);
        lock (_lock)
        {
            uint register = window == IoApicBase
                ? _io.Read(offset)
                : _local.Read(offset, Stopwatch.GetTimestamp());
            ulong value = shift < 32 ? register >> shift : 0;
            return size >= 4 ? value : value & ((1UL << (size * 8)) - 1);
        }
    }

    public void WriteMmio(ulong address, int size, ulong value)
    {
        var (window, offset, shift) = Locate(address);
        if (shift != 0) return; // registers are written whole, from their first byte
        lock (_lock)
        {
            if (window == IoApicBase) _io.Write(offset, (uint)value);
            else
            {
                long now = Stopwatch.GetTimestamp();
                _local.Write(offset, (uint)value, now);
                _timer.Schedule(_local.TimerDeadline);
            }
            Update();
        }
    }

    /// <summary>The window, the 16-byte-aligned register offset in it, and the bit shift of the byte addressed.</summary>
    private static (ulong Window, int Offset, int Shift) Locate(ulong address)
    {
        ulong window = address & ~(WindowSize - 1);
        int offset = (int)(address & (WindowSize - 1));
        int within = offset & 0xF;
        return (window, offset & ~0xF, within < 4 ? within * 8 : 32);
    }

    /// <summary>Both APICs and the base MSR; the 8259 pair behind LINT0 saves itself.</summary>
    public void SaveState(StateWriter writer)
    {
        lock (_lock)
        {
            writer.WriteUInt64(_baseMsr);
            _local.SaveState(writer);
            _io.SaveState(writer);
        }
    }

    public void RestoreState(StateReader reader)
    {
        ulong baseMsr = reader.ReadUInt64();
        reader.Check((baseMsr & ~(BaseAddressMask | BaseEnable | BaseBsp)) == 0, "the APIC base MSR has reserved bits set");
        lock (_lock)
        {
            if (_localMapped) _mmio.Unregister(this, _baseMsr & BaseAddressMask);
            _localMapped = false;
            _baseMsr = baseMsr;
            _local.RestoreState(reader);
            _io.RestoreState(reader);
            _timer.Schedule(_local.TimerDeadline);
            Update();
        }
        MapLocalApic();
    }

    private void MapLocalApic()
    {
        lock (_lock)
        {
            if ((_baseMsr & BaseEnable) == 0 || _localMapped) return;
            try
            {
                _mmio.Register(_baseMsr & BaseAddressMask, WindowSize, this, LocalApicOwner);
                _localMapped = true;
            }
            catch (BusConflictException)
            {
                // Moved onto another device's window: that device keeps answering, as the guest asked for a clash.
            }
        }
    }

    /// <summary>After every change, under the lock: the CPU's view, and a wake-up when an interrupt appears.</summary>
    private void Update()
    {
        bool enabled = (_baseMsr & BaseEnable) != 0;
        bool pending = enabled && _local.DeliverableVector >= 0;
        // With the APIC disabled globally, LINT0 is the CPU's INTR pin itself.
        _extIntOpen = !enabled || _local.ExtIntOpen;
        bool rose = (pending && !_apicPending) || (_local.NmiPending && !_nmiPending);
        _apicPending = pending;
        _nmiPending = _local.NmiPending;
        if (rose) _wake.Set();
    }

    public void Dispose() => _timer.Dispose();
}
