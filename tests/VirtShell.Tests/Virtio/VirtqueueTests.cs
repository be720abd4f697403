using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Memory;
using VirtShell.Tests.Devices;
using Xunit;

namespace VirtShell.Tests.Virtio;

/// <summary>
/// The split virtqueue and the device core, driven through virtio-mmio with virtio-rng as the simplest device: good
/// chains are served, and every malformed chain ends in DEVICE_NEEDS_RESET plus a config interrupt, with nothing
/// written outside guest RAM and the device usable again after a reset.
/// </summary>
public sealed class VirtqueueTests : IDisposable
{
    private const ulong Base = 0xD000_0000, Rings = 0x10000, Data = 0x80000;
    private const int Irq = 5;
    private const ushort Size = 8;

    private readonly GuestMemory _memory = new();
    private readonly MmioBus _bus = new();
    private readonly RecordingInterrupts _irq = new();
    private readonly List<string> _log = [];
    private readonly GuestDriver _driver;

    public VirtqueueTests()
    {
        _memory.AddRam(0, 0x10_0000);
        var rng = new VirtioRng("virtioRng", _memory, _log.Add);
        _bus.Register(Base, VirtioMmioTransport.WindowSize, new VirtioMmioTransport(rng, Base, Irq, _irq), "virtioRng");
        _driver = new GuestDriver(_memory, _bus, Base);
    }

    public void Dispose() => _memory.Dispose();

    private void Start(ulong features = GuestDriver.AllCommon)
    {
        Assert.True(_driver.Negotiate(features));
        _driver.SetupQueue(0, Size, Rings);
        _driver.DriverOk();
    }

    [Fact]
    public void Registers_IdentifyAVersion2EntropyDevice()
    {
        Assert.Equal(0x74726976u, _driver.Read(0x000));
        Assert.Equal(2u, _driver.Read(0x004));
        Assert.Equal(4u, _driver.Read(0x008));
        _driver.Write(0x30, 0);
        Assert.Equal((uint)VirtioRng.QueueSize, _driver.Read(0x034));
        _driver.Write(0x30, 1);
        Assert.Equal(0u, _driver.Read(0x034)); // no second queue
        Assert.Equal(GuestDriver.AllCommon, _driver.DeviceFeatures());
    }

    [Fact]
    public void Negotiation_RefusesFeaturesOk_WithoutVersion1_OrWithBitsTheDeviceLacks()
    {
        Assert.False(_driver.Negotiate(1UL << 28));
        Assert.False(_driver.Negotiate(GuestDriver.AllCommon | 1UL << 5));
        Assert.True(_driver.Negotiate(1UL << 32));
    }

    [Fact]
    public void The_used_ring_written_through_its_pointer_is_in_the_dirty_log()
    {
        // Pre-copy sees a device's writes only through the guest memory's log (KVM's own log does not see them).
        Assert.True(_driver.Negotiate(GuestDriver.AllCommon));
        var ring = _driver.SetupQueue(0, Size, Rings);
        _driver.DriverOk();
        _memory.StartDirtyLog();
        _driver.AddChain(0, new Desc(Data, 16, Desc.Write));
        _driver.Notify(0);

        var dirty = _memory.CollectDirtyLog();
        Assert.Contains(ring.Used / MemoryBlock.PageSize, dirty);
        Assert.Contains(Data / MemoryBlock.PageSize, dirty); // the buffer itself, through GuestMemory.Write
    }

    [Fact]
    public void GoodChain_IsFilled_UsedAndInterrupted_UntilAcknowledged()
    {
        Start();
        _memory.GetSpan(Data, 64).Clear();
        ushort head = _driver.AddChain(0, new Desc(Data, 32, Desc.Write), new Desc(Data + 32, 32, Desc.Write));
        _driver.Notify(0);

        Assert.Equal([(head, 64u)], _driver.TakeUsed(0));
        Assert.Contains(_memory.Read(Data, 64), b => b != 0);
        Assert.Equal(1u, _driver.InterruptStatus);
        Assert.True(_irq.Level(Irq));
        _driver.Acknowledge(1);
        Assert.False(_irq.Level(Irq));
        Assert.Equal(0u, _driver.InterruptStatus);
    }

    [Fact]
    public void Chains_AreServedInOrder_AcrossTheRingsWrapAround()
    {
        Start();
        for (int round = 0; round < 3 * Size; round++)
        {
            ushort head = _driver.AddChain(0, new Desc(Data, (uint)(round + 1), Desc.Write));
            _driver.Notify(0);
            Assert.Equal([(head, (uint)(round + 1))], _driver.TakeUsed(0));
        }
    }

    [Fact]
    public void NoInterruptFlag_SuppressesTheInterrupt_WithoutEventIndex()
    {
        Start(1UL << 32);
        _driver.SetAvailFlags(0, 1);
        _driver.AddChain(0, new Desc(Data, 8, Desc.Write));
        _driver.Notify(0);
        Assert.Single(_driver.TakeUsed(0));
        Assert.Equal(0u, _driver.InterruptStatus);
        Assert.Equal(0, _irq.RisingEdges(Irq));
    }

    [Fact]
    public void EventIndex_InterruptsOnlyWhenUsedEventIsPassed_AndPublishesAvailEvent()
    {
        Start();
        _driver.SetUsedEvent(0, 1); // interrupt once the used index passes 1, i.e. after the second chain
        _driver.AddChain(0, new Desc(Data, 8, Desc.Write));
        _driver.Notify(0);
        Assert.Equal(0u, _driver.InterruptStatus);
        Assert.Equal(1, _driver.AvailEvent(0));

        _driver.AddChain(0, new Desc(Data, 8, Desc.Write));
        _driver.Notify(0);
        Assert.Equal(1u, _driver.InterruptStatus);
        Assert.Equal(2, _driver.AvailEvent(0));
        Assert.Equal(2, _driver.TakeUsed(0).Count);
    }

    [Fact]
    public void IndirectTable_IsFollowed()
    {
        Start();
        const ulong table = Data + 0x1000;
        _driver.WriteDescriptor(table, 0, new Desc(Data, 16, Desc.Write | Desc.Next_, 1));
        _driver.WriteDescriptor(table, 1, new Desc(Data + 16, 16, Desc.Write));
        ushort head = _driver.AddChain(0, new Desc(table, 32, Desc.Indirect));
        _driver.Notify(0);
        Assert.Equal([(head, 32u)], _driver.TakeUsed(0));
    }

    public static TheoryData<string> MalformedCases => new()
    {
        "loop", "self loop", "next outside table", "head outside table", "buffer outside RAM", "buffer wraps address space",
        "avail index runs ahead", "indirect in indirect", "indirect with next", "indirect length not 16s",
        "indirect table outside RAM", "indirect table too long", "readable after writable", "indirect loop", "no writable buffer",
    };

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void MalformedChain_NeedsReset_RaisesConfigInterrupt_AndRecoversAfterReset(string kind)
    {
        Start();
        var ring = _driver.Queue(0);
        const ulong table = Data + 0x1000;
        switch (kind)
        {
            case "loop":
                _driver.WriteDescriptor(ring.Desc, 0, new Desc(Data, 8, Desc.Write | Desc.Next_, 1));
                _driver.WriteDescriptor(ring.Desc, 1, new Desc(Data, 8, Desc.Write | Desc.Next_, 0));
                _driver.Publish(0, 0);
                break;
            case "self loop":
                _driver.WriteDescriptor(ring.Desc, 3, new Desc(Data, 8, Desc.Write | Desc.Next_, 3));
                _driver.Publish(0, 3);
                break;
            case "next outside table":
                _driver.WriteDescriptor(ring.Desc, 0, new Desc(Data, 8, Desc.Write | Desc.Next_, Size));
                _driver.Publish(0, 0);
                break;
            case "head outside table":
                _driver.Publish(0, Size);
                break;
            case "buffer outside RAM":
                _driver.AddChain(0, new Desc(0x10_0000 - 4, 8, Desc.Write));
                break;
            case "buffer wraps address space":
                _driver.AddChain(0, new Desc(ulong.MaxValue - 0xFFF, 0x2000, Desc.Write));
                break;
            case "avail index runs ahead":
                _driver.SetAvailIdx(0, Size + 1);
                break;
            case "indirect in indirect":
                _driver.WriteDescriptor(table, 0, new Desc(table + 0x100, 16, Desc.Indirect));
                _driver.AddChain(0, new Desc(table, 16, Desc.Indirect));
                break;
            case "indirect with next":
                _driver.WriteDescriptor(table, 0, new Desc(Data, 8, Desc.Write));
                _driver.WriteDescriptor(ring.Desc, 0, new Desc(table, 16, Desc.Indirect | Desc.Next_, 1));
                _driver.WriteDescriptor(ring.Desc, 1, new Desc(Data, 8, Desc.Write));
                _driver.Publish(0, 0);
                break;
            case "indirect length not 16s":
                _driver.AddChain(0, new Desc(table, 24, Desc.Indirect));
                break;
            case "indirect table outside RAM":
                _driver.AddChain(0, new Desc(0x20_0000, 32, Desc.Indirect));
                break;
            case "indirect table too long":
                _driver.AddChain(0, new Desc(table, 16 * (Virtqueue.MaxIndirectDescriptors + 1), Desc.Indirect));
                break;
            case "readable after writable":
                _driver.AddChain(0, new Desc(Data, 8, Desc.Write), new Desc(Data + 8, 8));
                break;
            case "indirect loop":
                _driver.WriteDescriptor(table, 0, new Desc(Data, 8, Desc.Write | Desc.Next_, 1));
                _driver.WriteDescriptor(table, 1, new Desc(Data, 8, Desc.Write | Desc.Next_, 0));
                _driver.AddChain(0, new Desc(table, 32, Desc.Indirect));
                break;
            case "no writable buffer":
                _driver.AddChain(0, new Desc(Data, 8));
                break;
        }
        var before = _memory.Read(0, 0x10_0000);
        _driver.Notify(0);

        Assert.True(_driver.Status.HasFlag(VirtioStatus.DeviceNeedsReset), kind);
        Assert.Equal(2u, _driver.InterruptStatus & 2);
        Assert.True(_irq.Level(Irq));
        Assert.Empty(_driver.TakeUsed(0));
        Assert.Equal(before, _memory.Read(0, 0x10_0000));
        Assert.Contains(_log, l => l.StartsWith("virtioRng: queue 0:") && l.EndsWith("needs a reset"));

        // Until reset the device ignores the queue, however often it is notified.
        _driver.Notify(0);
        Assert.Single(_log);

        _driver.Write(0x70, 0);
        Assert.False(_irq.Level(Irq));
        Start();
        _memory.GetSpan(Data, 8).Clear();
        ushort head = _driver.AddChain(0, new Desc(Data, 8, Desc.Write));
        _driver.Notify(0);
        Assert.Equal([(head, 8u)], _driver.TakeUsed(0));
        Assert.False(_driver.Status.HasFlag(VirtioStatus.DeviceNeedsReset));
    }

    [Fact]
    public void ChainLongerThan4GiB_NeedsReset()
    {
        _memory.AddRam(0x1_0000_0000, 0x8000_0000); // reserved, never touched
        Start();
        _driver.AddChain(0,
            new Desc(0x1_0000_0000, 0x7000_0000, Desc.Write),
            new Desc(0x1_0000_0000, 0x7000_0000, Desc.Write),
            new Desc(0x1_0000_0000, 0x7000_0000, Desc.Write));
        _driver.Notify(0);
        Assert.True(_driver.Status.HasFlag(VirtioStatus.DeviceNeedsReset));
        Assert.Contains(_log, l => l.Contains("4 GiB"));
        Assert.Empty(_driver.TakeUsed(0));
    }

    [Theory]
    [InlineData(Size, 0x10_0000UL - 0x40)]
    [InlineData(Size, Rings + 1)]
    [InlineData(6, Rings)]
    public void QueueLayout_ThatDoesNotFit_NeedsReset_WhenMadeReady(ushort size, ulong descriptors)
    {
        Assert.True(_driver.Negotiate(GuestDriver.AllCommon));
        _driver.Write(0x30, 0);
        _driver.Write(0x38, size);
        _driver.Write(0x80, (uint)descriptors);
        _driver.Write(0x90, (uint)Rings + 0x1000);
        _driver.Write(0xa0, (uint)Rings + 0x2000);
        _driver.Write(0x44, 1);
        Assert.Equal(0u, _driver.Read(0x44));
        Assert.True(_driver.Status.HasFlag(VirtioStatus.DeviceNeedsReset));
        Assert.Equal(2u, _driver.InterruptStatus);
    }

    [Fact]
    public void ADriverThatSkipsFeatureNegotiation_IsNotServed()
    {
        _driver.Write(0x70, 1 | 2);
        _driver.SetupQueue(0, Size, Rings);
        _driver.Write(0x70, 1 | 2 | 4);
        _driver.AddChain(0, new Desc(Data, 8, Desc.Write));
        _driver.Notify(0);
        Assert.Empty(_driver.TakeUsed(0));
    }

    [Fact]
    public void NotifyBeforeDriverOk_OrForAQueueThatDoesNotExist_DoesNothing()
    {
        Assert.True(_driver.Negotiate(GuestDriver.AllCommon));
        _driver.SetupQueue(0, Size, Rings);
        _driver.AddChain(0, new Desc(Data, 8, Desc.Write));
        _driver.Notify(0);
        _driver.Notify(7);
        Assert.Empty(_driver.TakeUsed(0));
        _driver.DriverOk();
        _driver.Notify(0);
        Assert.Single(_driver.TakeUsed(0));
    }
}
