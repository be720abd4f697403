using VirtShell.Devices;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Memory;
using VirtShell.Tests.Devices;
using Xunit;

namespace VirtShell.Tests.Virtio;

public sealed class InterruptLineTests
{
    [Fact]
    public void ASharedInput_StaysHigh_WhileAnyLineAssertsIt()
    {
        var irq = new RecordingInterrupts();
        var a = irq.Connect(9);
        var b = irq.Connect(9);
        var other = irq.Connect(10);
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
    public void AnInputTheControllerLacksIsRefused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RecordingInterrupts().Connect(16));
        Assert.Contains("inputs 0..15", e.Message);
    }

    [Fact]
    public void AUartAndADiskOnOneIsaLine_DoNotHideEachOthersInterrupt()
    {
        var irq = new RecordingInterrupts();
        using var uart = new Uart16550(0x3F8, 4, irq, null);
        var other = irq.Connect(4);
        uart.WritePort(0x3F8 + 1, 1, 0x02); // IER: THR empty, which is due at once
        uart.WritePort(0x3F8 + 4, 1, 0x08); // MCR.OUT2 gates the UART's INT onto the line
        Assert.True(irq.Level(4));
        other.Set(true);
        Assert.Equal(0x02, (int)uart.ReadPort(0x3F8 + 2, 1) & 0x0F); // reading IIR takes the UART's interrupt away
        Assert.True(irq.Level(4), "the UART's lowering hid the other device's request");
        other.Set(false);
        Assert.False(irq.Level(4));
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
