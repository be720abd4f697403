using System.Buffers.Binary;
using System.Text;
using VirtShell.Devices;
using VirtShell.Devices.Pci;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;
using VirtShell.Tests.Devices;
using Xunit;

namespace VirtShell.Tests.Virtio;

/// <summary>
/// virtio-pci as a guest finds it: scan bus 0 through 0xCF8/0xCFC, size and enable BAR 0, walk the vendor
/// capabilities to the common/notify/ISR/device structures, bring a device up through them, and take INTx.
/// </summary>
public sealed class VirtioPciTests : IDisposable
{
    private const int ConsoleSlot = 1, BlkSlot = 3, ConsoleIrq = 10, BlkIrq = 11;

    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-pci-").FullName;
    private readonly GuestMemory _memory = new();
    private readonly ConsoleChannel _console = new(null);
    private readonly RecordingInterrupts _irq = new();
    private readonly DeviceContext _context;
    private readonly List<IDisposable> _devices = [];

    public VirtioPciTests()
    {
        _memory.AddRam(0, 0x20_0000);
        File.WriteAllBytes(Path.Combine(_folder, "disk.img"), new byte[32 * 512]);
        _context = new DeviceContext(new IoPortBus(), new MmioBus(), _irq, _memory, new MachineServices(_console, _ => { }, _ => { }));
        var where = new SourceLocation(Path.Combine(_folder, "pv.js"), 1);
        Attach(new DeviceSpec { Type = "virtioConsole", Source = where, Settings = new Dictionary<string, object?> { ["transport"] = "pci", ["slot"] = (long)ConsoleSlot, ["irq"] = (long)ConsoleIrq } });
        Attach(new DeviceSpec { Type = "virtioBlk", Source = where, Settings = new Dictionary<string, object?> { ["transport"] = "pci", ["slot"] = (long)BlkSlot, ["irq"] = (long)BlkIrq, ["image"] = "disk.img" } });
    }

    private void Attach(DeviceSpec spec)
    {
        var type = BuiltInDevices.Catalog.Find(spec.Type)!;
        type.Validate(spec);
        _devices.Add(type.Attach(spec, _context)!);
    }

    public void Dispose()
    {
        foreach (var d in _devices) d.Dispose();
        _memory.Dispose();
        _console.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private uint Config(int slot, int register, int size = 4)
    {
        _context.Ports.Write(0xCF8, 4, 0x8000_0000u | (uint)slot << 11 | (uint)(register & 0xFC));
        return _context.Ports.Read((ushort)(0xCFC + (register & 3)), size);
    }

    private void SetConfig(int slot, int register, int size, uint value)
    {
        _context.Ports.Write(0xCF8, 4, 0x8000_0000u | (uint)slot << 11 | (uint)(register & 0xFC));
        _context.Ports.Write((ushort)(0xCFC + (register & 3)), size, value);
    }

    /// <summary>BAR 0's address after enabling memory decoding, and the vendor capabilities by cfg_type: (offset in BAR, length, extra).</summary>
    private (uint Bar, Dictionary<int, (uint Offset, uint Length, uint Multiplier)> Caps) Probe(int slot)
    {
        SetConfig(slot, 0x04, 2, 0x0002);
        uint bar = Config(slot, 0x10) & ~0xFu;
        var caps = new Dictionary<int, (uint, uint, uint)>();
        Assert.NotEqual(0u, Config(slot, 0x06, 2) & 0x10); // has a capability list
        for (int at = (int)Config(slot, 0x34, 1), guard = 0; at != 0 && guard < 48; at = (int)Config(slot, at + 1, 1), guard++)
        {
            if (Config(slot, at, 1) != 0x09) continue;
            int type = (int)Config(slot, at + 3, 1);
            Assert.Equal(0u, Config(slot, at + 4, 1)); // BAR 0
            uint multiplier = type == 2 ? Config(slot, at + 16) : 0;
            caps[type] = (Config(slot, at + 8), Config(slot, at + 12), multiplier);
        }
        return (bar, caps);
    }

    [Fact]
    public void Scan_FindsTheHostBridgeAndTheTwoDevices_AndNothingElse()
    {
        var found = new Dictionary<int, uint>();
        for (int slot = 0; slot < 32; slot++)
            if (Config(slot, 0) is var id && id != 0xFFFF_FFFF) found[slot] = id;
        Assert.Equal(new Dictionary<int, uint> { [0] = 0x0008_1B36, [ConsoleSlot] = 0x1043_1AF4, [BlkSlot] = 0x1042_1AF4 }, found);
        Assert.Equal(0x060000u, Config(0, 0x08) >> 8);
        Assert.Equal(0x010000u, Config(BlkSlot, 0x08) >> 8);
        Assert.Equal(1u, Config(BlkSlot, 0x08) & 0xFF); // revision 1: modern
        Assert.Equal(0x0042_1AF4u, Config(BlkSlot, 0x2C));
        Assert.Equal((uint)BlkIrq, Config(BlkSlot, 0x3C, 1));
        Assert.Equal(1u, Config(BlkSlot, 0x3D, 1)); // INTA#
        // Function 1 and other buses are empty; a disabled CONFIG_ADDRESS reads nothing.
        _context.Ports.Write(0xCF8, 4, 0x8000_0000u | BlkSlot << 11 | 1 << 8);
        Assert.Equal(0xFFFF_FFFFu, _context.Ports.Read(0xCFC, 4));
        _context.Ports.Write(0xCF8, 4, 0x8001_0000u | BlkSlot << 11);
        Assert.Equal(0xFFFF_FFFFu, _context.Ports.Read(0xCFC, 4));
        _context.Ports.Write(0xCF8, 4, (uint)BlkSlot << 11);
        Assert.Equal(0xFFFF_FFFFu, _context.Ports.Read(0xCFC, 4));
    }

    [Fact]
    public void Bar0_SizesLikeAnyBar_AndDecodesOnlyWithMemoryEnabled_WhereverItIsMoved()
    {
        uint original = Config(BlkSlot, 0x10);
        Assert.InRange(original, (uint)PciHostBridge.WindowBase, (uint)(PciHostBridge.WindowBase + PciHostBridge.WindowSize - 1));
        SetConfig(BlkSlot, 0x10, 4, 0xFFFF_FFFF);
        Assert.Equal(~(VirtioPciTransport.BarSize - 1), Config(BlkSlot, 0x10)); // 32-bit memory BAR of 16 KiB
        SetConfig(BlkSlot, 0x10, 4, original);

        var (bar, caps) = Probe(BlkSlot);
        ulong deviceCfg = bar + caps[4].Offset;
        Assert.Equal(32UL, _context.Mmio.Read(deviceCfg, 4)); // capacity in sectors

        SetConfig(BlkSlot, 0x04, 2, 0);
        Assert.Equal(0xFFFF_FFFFUL, _context.Mmio.Read(deviceCfg, 4));
        SetConfig(BlkSlot, 0x04, 2, 2);

        const uint moved = 0xE800_0000;
        SetConfig(BlkSlot, 0x10, 4, moved);
        Assert.Equal(32UL, _context.Mmio.Read(moved + caps[4].Offset, 4));
        Assert.Equal(0xFFFF_FFFFUL, _context.Mmio.Read(deviceCfg, 4));
    }

    [Fact]
    public void Capabilities_PointAtAllFourStructures()
    {
        var (_, caps) = Probe(ConsoleSlot);
        Assert.Equal([1, 2, 3, 4, 5], caps.Keys.Order());
        Assert.True(caps[1].Length >= 0x38);
        Assert.Equal(4u, caps[2].Multiplier);
        Assert.True(caps[3].Length >= 1);
    }

    [Fact]
    public void Blk_ComesUpThroughTheCommonConfig_WritesTheImage_AndInterruptsThroughIntx()
    {
        var (bar, caps) = Probe(BlkSlot);
        ulong common = bar + caps[1].Offset, isr = bar + caps[3].Offset;
        var mmio = _context.Mmio;
        mmio.Write(common + 0x14, 1, 0);
        mmio.Write(common + 0x14, 1, 1 | 2);
        mmio.Write(common + 0x00, 4, 1);
        Assert.NotEqual(0UL, mmio.Read(common + 0x04, 4) & 1); // VERSION_1 is feature bit 32
        mmio.Write(common + 0x08, 4, 0);
        mmio.Write(common + 0x0C, 4, 0);
        mmio.Write(common + 0x08, 4, 1);
        mmio.Write(common + 0x0C, 4, 1);
        mmio.Write(common + 0x14, 1, 1 | 2 | 8);
        Assert.Equal(0xBUL, mmio.Read(common + 0x14, 1));
        Assert.Equal(1UL, mmio.Read(common + 0x12, 2)); // one queue
        Assert.Equal(0xFFFFUL, mmio.Read(common + 0x10, 2)); // no MSI-X

        var driver = new GuestDriver(_memory, mmio, 0);
        var ring = driver.PlaceQueue(0, 16, 0x10000);
        mmio.Write(common + 0x16, 2, 0);
        Assert.Equal(128UL, mmio.Read(common + 0x18, 2));
        mmio.Write(common + 0x18, 2, 16);
        mmio.Write(common + 0x20, 4, (uint)ring.Desc);
        mmio.Write(common + 0x28, 4, (uint)ring.Avail);
        mmio.Write(common + 0x30, 4, (uint)ring.Used);
        mmio.Write(common + 0x1C, 2, 1);
        Assert.Equal(1UL, mmio.Read(common + 0x1C, 2));
        ulong notify = bar + caps[2].Offset + mmio.Read(common + 0x1E, 2) * caps[2].Multiplier;
        mmio.Write(common + 0x14, 1, 0xF);

        var header = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), 7);
        _memory.Write(0x80000, header);
        _memory.Write(0x81000, Encoding.ASCII.GetBytes(new string('Z', 512)));
        driver.AddChain(0, new Desc(0x80000, 16), new Desc(0x81000, 512), new Desc(0x82000, 1, Desc.Write));
        mmio.Write(notify, 2, 0);

        Assert.Single(driver.TakeUsed(0));
        Assert.Equal(0, _memory.Read(0x82000, 1)[0]);
        Assert.True(_irq.Level(BlkIrq));
        Assert.NotEqual(0u, Config(BlkSlot, 0x06, 2) & 0x08); // interrupt status
        Assert.Equal(1UL, mmio.Read(isr, 1));
        Assert.False(_irq.Level(BlkIrq));
        Assert.Equal(0UL, mmio.Read(isr, 1));

        _devices[1].Dispose(); // releases the image for the host to read
        _devices.RemoveAt(1);
        var file = File.ReadAllBytes(Path.Combine(_folder, "disk.img"));
        Assert.All(file.AsSpan(7 * 512, 512).ToArray(), b => Assert.Equal((byte)'Z', b));
    }

    [Fact]
    public void PciCfgCapability_ReachesTheBarThroughConfigSpace()
    {
        Probe(BlkSlot);
        int at = (int)Config(BlkSlot, 0x34, 1);
        while (Config(BlkSlot, at, 1) != 0x09 || Config(BlkSlot, at + 3, 1) != 5) at = (int)Config(BlkSlot, at + 1, 1);
        SetConfig(BlkSlot, at + 4, 1, 0);        // bar
        SetConfig(BlkSlot, at + 8, 4, 0x12);     // common config: num_queues
        SetConfig(BlkSlot, at + 12, 4, 2);       // length
        Assert.Equal(1u, Config(BlkSlot, at + 16));
        SetConfig(BlkSlot, at + 8, 4, 0x14);     // device_status
        SetConfig(BlkSlot, at + 12, 4, 1);
        SetConfig(BlkSlot, at + 16, 4, 1);       // ACKNOWLEDGE, written through the window
        Assert.Equal(1u, Config(BlkSlot, at + 16));
        SetConfig(BlkSlot, at + 4, 1, 3);        // a BAR the device does not have: nothing there
        Assert.Equal(0u, Config(BlkSlot, at + 16));
    }

    [Fact]
    public void InterruptDisable_HoldsTheLineLow()
    {
        var (bar, caps) = Probe(ConsoleSlot);
        ulong common = bar + caps[1].Offset, device = bar + caps[4].Offset;
        _context.Mmio.Write(common + 0x14, 1, 0);
        SetConfig(ConsoleSlot, 0x04, 2, 0x0402);
        // A queue layout outside RAM sets DEVICE_NEEDS_RESET, which raises a config interrupt.
        _context.Mmio.Write(common + 0x14, 1, 3);
        _context.Mmio.Write(common + 0x16, 2, 0);
        _context.Mmio.Write(common + 0x20, 4, 0xFFFF_F000);
        _context.Mmio.Write(common + 0x1C, 2, 1);
        Assert.False(_irq.Level(ConsoleIrq));
        SetConfig(ConsoleSlot, 0x04, 2, 0x0002);
        Assert.True(_irq.Level(ConsoleIrq));
        Assert.Equal(2UL, _context.Mmio.Read(bar + caps[3].Offset, 1));
        Assert.Equal(0UL, _context.Mmio.Read(device, 4)); // console config: cols/rows unused
    }

    [Fact]
    public void TwoDevicesInOneSlot_IsADefinitionError()
    {
        var spec = new DeviceSpec { Type = "virtioRng", Settings = new Dictionary<string, object?> { ["transport"] = "pci", ["slot"] = (long)BlkSlot } };
        var e = Assert.Throws<DefinitionException>(() => BuiltInDevices.Catalog.Find("virtioRng")!.Attach(spec, _context));
        Assert.Contains("slot 3 is already taken", e.Message);
    }
}
