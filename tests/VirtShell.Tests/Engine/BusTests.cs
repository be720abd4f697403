using VirtShell.Engine.Buses;

namespace VirtShell.Tests.Engine;

public class BusTests
{
    private sealed class Latch : IPortDevice, IMmioDevice
    {
        public uint Value;
        public uint ReadPort(ushort port, int size) => Value + port;
        public void WritePort(ushort port, int size, uint value) => Value = value;
        public ulong ReadMmio(ulong address, int size) => Value;
        public void WriteMmio(ulong address, int size, ulong value) => Value = (uint)value;
    }

    [Fact]
    public void Port_accesses_reach_the_claiming_device_and_unclaimed_ports_float_high()
    {
        var bus = new IoPortBus();
        var latch = new Latch();
        bus.Register(0x3f8, 8, latch, "uart");
        bus.Write(0x3f8, 1, 7);
        Assert.Equal(7u + 0x3f9, bus.Read(0x3f9, 1));
        Assert.Equal(0xFFu, bus.Read(0x2f8, 1));
        Assert.Equal(0xFFFFu, bus.Read(0x2f8, 2));
    }

    [Fact]
    public void Every_access_is_counted_claimed_or_not_for_Measure()
    {
        var ports = new IoPortBus();
        var mmio = new MmioBus();
        var latch = new Latch();
        ports.Register(0x3f8, 8, latch, "uart");
        mmio.Register(0xD000_0000, 0x200, latch, "virtio");
        ports.Write(0x3f8, 1, 7);
        ports.Read(0x3f9, 1);
        ports.Read(0x2f8, 1);
        mmio.Write(0xD000_0000, 4, 1);
        mmio.Read(0xE000_0000, 4);
        Assert.Equal(3, ports.Accesses);
        Assert.Equal(2, mmio.Accesses);
    }

    [Fact]
    public void Overlapping_port_claims_name_both_owners()
    {
        var bus = new IoPortBus();
        bus.Register(0x3f8, 8, new Latch(), "uart16550 at hello.js:7");
        var e = Assert.Throws<BusConflictException>(() => bus.Register(0x3fc, 1, new Latch(), "debugExit at hello.js:8"));
        Assert.Contains("hello.js:7", e.Message);
        Assert.Contains("hello.js:8", e.Message);
        bus.Register(0x400, 1, new Latch(), "adjacent is fine");
    }

    [Fact]
    public void Mmio_ranges_dispatch_and_refuse_overlaps()
    {
        var bus = new MmioBus();
        var latch = new Latch();
        bus.Register(0xFEC0_0000, 0x1000, latch, "ioapic");
        bus.Write(0xFEC0_0010, 4, 0x55);
        Assert.Equal(0x55UL, bus.Read(0xFEC0_0FFC, 4));
        Assert.Equal(0xFFFF_FFFFUL, bus.Read(0xFED0_0000, 4));
        Assert.Throws<BusConflictException>(() => bus.Register(0xFEC0_0800, 0x1000, latch, "clash"));
    }
}
