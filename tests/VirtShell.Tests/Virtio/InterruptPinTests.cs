using VirtShell.Devices.Pci;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Memory;
using VirtShell.Tests.Devices;
using Xunit;

namespace VirtShell.Tests.Virtio;

public sealed class InterruptPinTests
{
    [Fact]
    public void ASharedLine_StaysHigh_WhileAnyPinAssertsIt()
    {
        var irq = new RecordingInterrupts();
        var a = new InterruptPin(irq, 9);
        var b = new InterruptPin(irq, 9);
        var other = new InterruptPin(irq, 10);
        a.Set(true);
        b.Set(true);
        a.Set(false);
        Assert.True(irq.Level(9));
        a.Set(false); // lowering twice does not count twice
        Assert.True(irq.Level(9));
        b.Set(false);
        Assert.False(irq.Level(9));
        other.Set(true);
        Assert.False(irq.Level(9));
        Assert.True(irq.Level(10));
    }

    [Fact]
    public void TwoMmioDevicesOnOneIrq_DoNotHideEachOthersInterrupt()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x10_0000);
        var bus = new MmioBus();
        var irq = new RecordingInterrupts();
        var drivers = new List<GuestDriver>();
        for (int i = 0; i < 2; i++)
        {
            ulong at = 0xD000_0000 + (ulong)i * 0x200;
            bus.Register(at, VirtioMmioTransport.WindowSize, new VirtioMmioTransport(new VirtioRng($"rng{i}", memory, _ => { }), at, 5, irq), $"rng{i}");
            var driver = new GuestDriver(memory, bus, at);
            Assert.True(driver.Negotiate(GuestDriver.AllCommon));
            driver.SetupQueue(0, 8, 0x10000 + (ulong)i * 0x10000);
            driver.DriverOk();
            driver.AddChain(0, new Desc(0x80000, 8, Desc.Write));
            driver.Notify(0);
            drivers.Add(driver);
        }
        drivers[0].Acknowledge(1);
        Assert.True(irq.Level(5));
        drivers[1].Acknowledge(1);
        Assert.False(irq.Level(5));
    }
}
