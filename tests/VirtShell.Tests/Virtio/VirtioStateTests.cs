using System.Buffers.Binary;
using System.Diagnostics;
using VirtShell.Devices;
using VirtShell.Devices.Hypercall;
using VirtShell.Devices.Pci;
using VirtShell.Devices.Storage;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;
using VirtShell.Tests.Devices;
using Xunit;

namespace VirtShell.Tests.Virtio;

/// <summary>
/// virtio devices saved with work under way on their queues, restored into fresh devices over a copy of guest RAM
/// (and of the disk, as a checkpoint takes it), then driven on: the fresh device must do exactly what the first one
/// does, and save the very bytes it was restored from.
/// </summary>
public sealed class VirtioStateTests : IDisposable
{
    private const ulong Base = 0xD000_0000, RamSize = 0x20_0000;
    private const ulong Header = 0x80000, StatusByte = 0x80100, Data = 0x90000;
    private static readonly long Now = Stopwatch.GetTimestamp();

    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-virtio-state-").FullName;
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var d in Enumerable.Reverse(_owned)) d.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private T Own<T>(T d) where T : IDisposable
    {
        _owned.Add(d);
        return d;
    }

    private GuestMemory Ram()
    {
        var memory = Own(new GuestMemory());
        memory.AddRam(0, RamSize);
        return memory;
    }

    private static byte[] Save(IDeviceState device)
    {
        var writer = new StateWriter(Now);
        device.SaveState(writer);
        return writer.Written.ToArray();
    }

    private static void Restore(IDeviceState device, byte[] saved)
    {
        var reader = new StateReader("mmio 0xd0000000", saved, Now);
        device.RestoreState(reader);
        reader.End();
    }

    /// <summary>A virtio-blk on an image file behind a virtio-mmio window on a bus of its own.</summary>
    private (VirtioMmioTransport Transport, GuestDriver Driver, MmioBus Bus) Block(GuestMemory memory, string image)
    {
        var device = Own(new VirtioBlock("virtioBlk", memory, DiskImage.Open(image, readOnly: false), "state", _ => { }));
        var bus = new MmioBus();
        var transport = new VirtioMmioTransport(device, Base, 6, new RecordingInterrupts());
        bus.Register(Base, VirtioMmioTransport.WindowSize, transport, "virtioBlk");
        return (transport, new GuestDriver(memory, bus, Base), bus);
    }

    /// <summary>A write request of one sector, laid out at <paramref name="slot"/>'s header/data/status and made available.</summary>
    private static void PublishWrite(GuestMemory memory, GuestDriver driver, int slot, ulong sector, byte fill)
    {
        ulong header = Header + 0x20UL * (ulong)slot, status = StatusByte + (ulong)slot, data = Data + 512UL * (ulong)slot;
        var h = memory.GetSpan(header, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(h, 1); // VIRTIO_BLK_T_OUT
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(h[8..], sector);
        memory.GetSpan(data, 512).Fill(fill);
        memory.GetSpan(status, 1)[0] = 0xEE;
        driver.AddChain(0, new Desc(header, 16), new Desc(data, 512), new Desc(status, 1, Desc.Write));
    }

    [Fact]
    public void A_block_device_saved_with_requests_waiting_serves_them_after_a_restore_as_the_first_does()
    {
        string image = Path.Combine(_folder, "disk.img");
        File.WriteAllBytes(image, new byte[64 * 512]);
        var memory = Ram();
        var (transport, driver, _) = Block(memory, image);
        Assert.True(driver.Negotiate(GuestDriver.AllCommon));   // event index and indirect tables on
        driver.SetupQueue(0, 16, 0x10000);
        driver.DriverOk();
        driver.SetUsedEvent(0, 0);
        PublishWrite(memory, driver, 0, sector: 3, fill: 0x33);
        driver.Notify(0);
        Assert.Equal(1, driver.UsedIdx(0));
        // Two more requests made available but not announced yet, and registers left as a driver leaves them.
        PublishWrite(memory, driver, 1, sector: 5, fill: 0x55);
        PublishWrite(memory, driver, 2, sector: 7, fill: 0x77);
        driver.Write(0x14, 1);                                  // DeviceFeaturesSel
        Assert.Equal(1u, driver.InterruptStatus);               // the first request's interrupt, not acknowledged

        byte[] saved = Save(transport);

        // What a checkpoint keeps: RAM and the disk as they are now.
        var copyMemory = Ram();
        memory.GetSpan(0, (int)RamSize).CopyTo(copyMemory.GetSpan(0, (int)RamSize));
        string copyImage = Path.Combine(_folder, "copy.img");
        DiskCapture.Capture(image, copyImage);                  // as a checkpoint takes it: the image is locked
        var (fresh, freshDriver, _) = Block(copyMemory, copyImage);
        Restore(fresh, saved);
        Assert.Equal(saved, Save(fresh));
        Assert.Equal(1u, freshDriver.InterruptStatus);
        Assert.Equal(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk, freshDriver.Status);
        Assert.Equal(1u, freshDriver.Read(0x10));              // DeviceFeaturesSel kept: the high word, VERSION_1
        Assert.Equal(1u, freshDriver.Read(0x44));              // queue 0 ready

        // Both go on: the waiting requests are served once, in order, by each.
        driver.Notify(0);
        freshDriver.Write(0x50, 0);
        Assert.Equal(memory.GetSpan(0, (int)RamSize).ToArray(), copyMemory.GetSpan(0, (int)RamSize).ToArray());
        Assert.Equal(3, driver.UsedIdx(0));
        Assert.Equal(Save(transport), Save(fresh));
        var disk = ReadLocked(copyImage);
        Assert.Equal(ReadLocked(image), disk);
        Assert.All(disk.AsSpan(5 * 512, 512).ToArray(), b => Assert.Equal(0x55, b));
        Assert.All(disk.AsSpan(7 * 512, 512).ToArray(), b => Assert.Equal(0x77, b));
    }

    /// <summary>A disk image's bytes while a device holds its lock (which .NET's own file sharing would trip over).</summary>
    private byte[] ReadLocked(string image)
    {
        string copy = Path.Combine(_folder, Guid.NewGuid().ToString("N"));
        DiskCapture.Capture(image, copy);
        return File.ReadAllBytes(copy);
    }

    /// <summary>
    /// A console's state saved while it holds a transmit chain: one chain of 100 000 bytes, more than the device takes
    /// per hold of its lock (64 KiB), so it hands the first part to the console while it still holds the chain. The
    /// save happens there, from the console's line handler, as another thread's save could. Returns the state, guest
    /// RAM at the save, the text, and the driver and RAM of the machine that went on.
    /// </summary>
    private (byte[] Saved, byte[] RamAtSave, byte[] Text, GuestDriver Driver, GuestMemory Memory, ConsoleChannel Console) ConsoleMidChain()
    {
        var memory = Ram();
        var console = Own(new ConsoleChannel(null));
        var device = Own(new VirtioConsole("virtioConsole", memory, console, _ => { }));
        var transport = new VirtioMmioTransport(device, Base, 5, new RecordingInterrupts());
        var bus = new MmioBus();
        bus.Register(Base, VirtioMmioTransport.WindowSize, transport, "virtioConsole");
        var driver = new GuestDriver(memory, bus, Base);
        Assert.True(driver.Negotiate(GuestDriver.AllCommon | 1UL << 2));
        driver.SetupQueue(0, 8, 0x10000);
        driver.SetupQueue(1, 8, 0x20000);
        driver.DriverOk();
        const int Length = 100_000;
        byte[] text = [.. Enumerable.Range(0, Length).Select(i => i % 100 == 99 ? (byte)'\n' : (byte)('a' + i % 26))];
        memory.Write(0x100000, text);
        byte[]? saved = null;
        byte[]? ramAtSave = null;
        console.LineReceived += _ =>
        {
            if (saved != null) return;
            saved = Save(transport);
            ramAtSave = memory.GetSpan(0, (int)RamSize).ToArray();
        };
        driver.AddChain(1, new Desc(0x100000, Length));
        driver.Notify(1);
        Assert.NotNull(saved);
        return (saved, ramAtSave!, text, driver, memory, console);
    }

    [Fact]
    public void A_console_saved_in_the_middle_of_a_transmit_chain_sends_the_rest_of_it_after_a_restore()
    {
        var (saved, ramAtSave, text, driver, memory, console) = ConsoleMidChain();
        long end = 0;
        Assert.Equal(text, console.ReadFrom(ref end));

        var copyMemory = Ram();
        ramAtSave.CopyTo(copyMemory.GetSpan(0, (int)RamSize));
        using var freshConsole = new ConsoleChannel(null);
        var freshDevice = Own(new VirtioConsole("virtioConsole", copyMemory, freshConsole, _ => { }));
        var fresh = new VirtioMmioTransport(freshDevice, Base, 5, new RecordingInterrupts());
        Restore(fresh, saved);
        Assert.Equal(saved, Save(fresh));
        var freshBus = new MmioBus();
        freshBus.Register(Base, VirtioMmioTransport.WindowSize, fresh, "virtioConsole");
        var freshDriver = new GuestDriver(copyMemory, freshBus, Base);
        freshDriver.Notify(1);

        long at = 0;
        Assert.Equal(text.AsSpan(64 * 1024).ToArray(), freshConsole.ReadFrom(ref at)); // the rest, once
        Assert.Equal(memory.GetSpan(0, (int)RamSize).ToArray(), copyMemory.GetSpan(0, (int)RamSize).ToArray());
        Assert.Equal(1, driver.UsedIdx(1));                     // the chain is used once, in both
    }

    [Fact]
    public void A_damaged_console_section_is_restored_or_refused_but_never_fails_otherwise()
    {
        var (saved, ramAtSave, _, _, _, _) = ConsoleMidChain();
        var memory = Ram();
        ramAtSave.CopyTo(memory.GetSpan(0, (int)RamSize));
        var device = Own(new VirtioConsole("virtioConsole", memory, Own(new ConsoleChannel(null)), _ => { }));
        var transport = new VirtioMmioTransport(device, Base, 5, new RecordingInterrupts());
        int refused = 0;
        void Try(byte[] section)
        {
            // A damaged section may still be a state the device could have had; anything else is refused by the
            // reader's checks, never by an exception of another kind.
            try { Restore(transport, section); }
            catch (StateFormatException) { refused++; }
        }
        for (int length = 0; length < saved.Length; length++) Try(saved[..length]);
        for (int i = 0; i < saved.Length; i++)
            foreach (byte value in new[] { (byte)0, (byte)0xFF, (byte)(saved[i] ^ 1), (byte)(saved[i] ^ 0x80) })
            {
                byte[] damaged = (byte[])saved.Clone();
                damaged[i] = value;
                Try(damaged);
            }
        Assert.True(refused > saved.Length, $"only {refused} damaged sections were refused");
    }

    [Fact]
    public void A_virtio_pci_function_keeps_its_transport_registers_through_the_host_bridge()
    {
        (PciHostBridge Bridge, IoPortBus Ports) Board(GuestMemory memory, string image)
        {
            File.WriteAllBytes(Path.Combine(_folder, image), new byte[32 * 512]);
            var context = new DeviceContext(new IoPortBus(), new MmioBus(), new RecordingInterrupts(), memory,
                new MachineServices(Own(new ConsoleChannel(null)), _ => { }, _ => { }));
            var spec = new DeviceSpec
            {
                Type = "virtioBlk", Source = new SourceLocation(Path.Combine(_folder, "pv.js"), 1),
                Settings = new Dictionary<string, object?> { ["transport"] = "pci", ["slot"] = 3L, ["irq"] = 11L, ["image"] = image },
            };
            Own(BuiltInDevices.Catalog.Find("virtioBlk")!.Attach(spec, context)!);
            return (PciHostBridge.For(context), context.Ports);
        }
        var (bridge, ports) = Board(Ram(), "disk.img");
        ports.Write(0xCF8, 4, 0x8000_0000u | 3u << 11 | 0x04u);
        ports.Write(0xCFC, 2, 2);                                    // memory decoding on
        var window = new MmioWindow(bridge, ReadBar(ports));
        window.Write(0x14, 1, 1 | 2);                                // device_status: ACKNOWLEDGE | DRIVER
        window.Write(0x16, 2, 0);                                    // queue_select 0
        window.Write(0x18, 2, 16);                                   // queue_size
        window.Write(0x20, 4, 0x10000);                              // queue_desc

        byte[] saved = Save(bridge);
        var fresh = Board(Ram(), "copy.img");
        Restore(fresh.Bridge, saved);
        Assert.Equal(saved, Save(fresh.Bridge));
        var freshWindow = new MmioWindow(fresh.Bridge, ReadBar(fresh.Ports));
        Assert.Equal(3u, freshWindow.Read(0x14, 1));
        Assert.Equal(16u, freshWindow.Read(0x18, 2));
        Assert.Equal(0x10000u, freshWindow.Read(0x20, 4));
    }

    private static uint ReadBar(IoPortBus ports)
    {
        ports.Write(0xCF8, 4, 0x8000_0000u | 3u << 11 | 0x10u);
        return ports.Read(0xCFC, 4) & ~0xFu;
    }

    /// <summary>BAR 0 of a PCI function as the guest reaches it: through the host bridge's MMIO window.</summary>
    private sealed class MmioWindow(PciHostBridge bridge, uint bar)
    {
        public uint Read(int offset, int size) => (uint)bridge.ReadMmio(bar + (ulong)offset, size);
        public void Write(int offset, int size, uint value) => bridge.WriteMmio(bar + (ulong)offset, size, value);
    }

    [Fact]
    public void The_hypercall_channel_keeps_the_last_status_a_guest_reads_back()
    {
        var memory = Ram();
        HypercallChannel Channel() => new("hypercalls", memory, new Dictionary<string, byte[]>(), _ => { }, _ => { });
        var channel = Channel();
        channel.WritePort(0x5650, 4, 0x3000_0000); // not RAM: BadBlock
        var fresh = Channel();
        Restore(fresh, Save(channel));
        Assert.Equal(unchecked((uint)HypercallChannel.BadBlock), fresh.ReadPort(0x5650, 4));
    }

    [Fact]
    public void A_section_with_a_queue_outside_RAM_an_impossible_status_or_another_device_type_is_refused_naming_it()
    {
        string image = Path.Combine(_folder, "disk.img");
        File.WriteAllBytes(image, new byte[64 * 512]);
        var memory = Ram();
        var (transport, driver, _) = Block(memory, image);
        Assert.True(driver.Negotiate(GuestDriver.AllCommon));
        driver.SetupQueue(0, 16, 0x10000);
        driver.DriverOk();
        byte[] saved = Save(transport);

        // Layout: 4 selector/status words and the line level (17 bytes), device ID and queue count, device status,
        // features, then queue 0: ready, size, descriptor table address.
        const int DeviceId = 17, DeviceStatus = DeviceId + 8, DescriptorTable = DeviceStatus + 1 + 8 + 1 + 2;
        byte[] badQueue = (byte[])saved.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(badQueue.AsSpan(DescriptorTable), 0x4000_0000);
        byte[] badStatus = (byte[])saved.Clone();
        badStatus[DeviceStatus] = 0x30;
        byte[] otherType = (byte[])saved.Clone();
        otherType[DeviceId] = (byte)VirtioDeviceId.Entropy;

        (VirtioMmioTransport, GuestDriver, MmioBus) Fresh(string name)
        {
            string copy = Path.Combine(_folder, name);
            DiskCapture.Capture(image, copy);
            return Block(Ram(), copy);
        }
        var e = Assert.Throws<StateFormatException>(() => Restore(Fresh("one.img").Item1, badQueue));
        Assert.Contains("section 'mmio 0xd0000000'", e.Message);
        Assert.Contains("not in guest RAM", e.Message);
        e = Assert.Throws<StateFormatException>(() => Restore(Fresh("two.img").Item1, badStatus));
        Assert.Contains("bits virtio does not define", e.Message);
        e = Assert.Throws<StateFormatException>(() => Restore(Fresh("three.img").Item1, otherType));
        Assert.Contains("a virtio device of type 4 with 1 queues, not this VirtioBlock", e.Message);
    }
}
