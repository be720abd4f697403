using System.Buffers.Binary;
using VirtShell.Engine.Memory;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Virtio;

/// <summary>How a device reaches the driver: the transport turns these into its interrupt (a line, later MSI-X).</summary>
public interface IVirtioInterrupts
{
    void UsedBuffer();
    void ConfigChange();
}

/// <summary>
/// What every virtio device has, whatever it does and whichever transport carries it (virtio 1.x, 2 and 3): status,
/// feature negotiation, queues, config space, reset, and the rule that a driver that breaks the queue protocol gets
/// DEVICE_NEEDS_RESET and a config interrupt instead of a host failure.
/// </summary>
/// <remarks>
/// The transport calls in on the vCPU thread; a device may also be woken from elsewhere (console input). Every
/// entry point holds <see cref="Lock"/>; the transport takes the same lock around register accesses.
/// </remarks>
public abstract class VirtioDevice : IDeviceState, IDisposable
{
    private const ulong CommonFeatures =
        1UL << VirtioFeatures.Version1 | 1UL << VirtioFeatures.IndirectDescriptors | 1UL << VirtioFeatures.EventIndex;

    private readonly Virtqueue[] _queues;
    private readonly Action<string> _log;

    protected VirtioDevice(string name, GuestMemory memory, int queueCount, ushort queueSize, Action<string> log)
    {
        Name = name;
        Memory = memory;
        _log = log;
        _queues = new Virtqueue[queueCount];
        for (int i = 0; i < queueCount; i++) _queues[i] = new Virtqueue(memory, queueSize);
    }

    /// <summary>The definition's name for the device, used in log lines.</summary>
    public string Name { get; }
    public object Lock { get; } = new();
    public abstract uint DeviceId { get; }
    public ulong DeviceFeatures => CommonFeatures | DeviceSpecificFeatures;
    public ulong DriverFeatures { get; private set; }
    public VirtioStatus Status { get; private set; }
    public IReadOnlyList<Virtqueue> Queues => _queues;
    /// <summary>Set by the transport that carries the device.</summary>
    public IVirtioInterrupts? Interrupts { get; set; }

    protected GuestMemory Memory { get; }
    protected virtual ulong DeviceSpecificFeatures => 0;
    /// <summary>The device-specific configuration structure, little-endian, as the driver reads it.</summary>
    protected byte[] ConfigSpace { get; init; } = [];

    public bool IsFeatureNegotiated(int bit) => (DriverFeatures & VirtioFeatures.Bit(bit)) != 0;

    /// <summary>One 32-bit word of the driver's features; ignored once FEATURES_OK is set, as the spec requires.</summary>
    public void SetDriverFeatures(int word, uint value)
    {
        if (word is < 0 or > 1 || (Status & VirtioStatus.FeaturesOk) != 0) return;
        int shift = word * 32;
        DriverFeatures = DriverFeatures & ~(0xFFFF_FFFFUL << shift) | (ulong)value << shift;
    }

    public void WriteStatus(byte value)
    {
        if (value == 0)
        {
            Reset();
            return;
        }
        var requested = (VirtioStatus)value & ~VirtioStatus.DeviceNeedsReset;
        var added = requested & ~Status;
        // The driver learns that negotiation failed by reading FEATURES_OK back and finding it clear.
        if ((added & VirtioStatus.FeaturesOk) != 0 && !FeaturesAcceptable()) requested &= ~VirtioStatus.FeaturesOk;
        Status = requested | Status & VirtioStatus.DeviceNeedsReset;
        if ((added & VirtioStatus.DriverOk) != 0 && (Status & VirtioStatus.FeaturesOk) != 0) OnDriverReady();
    }

    private bool FeaturesAcceptable() =>
        (DriverFeatures & ~DeviceFeatures) == 0 && IsFeatureNegotiated(VirtioFeatures.Version1);

    /// <summary>The driver set QueueReady on queue <paramref name="index"/>.</summary>
    public void EnableQueue(int index)
    {
        if ((uint)index >= _queues.Length) return;
        try
        {
            _queues[index].Enable(DriverFeatures);
        }
        catch (MalformedQueueException e)
        {
            Fail($"queue {index}: {e.Message}");
        }
    }

    /// <summary>The driver notified queue <paramref name="index"/>: serve it, then do what must happen outside the lock.</summary>
    public void Notify(int index)
    {
        lock (Lock) Service(index);
        AfterService();
    }

    /// <summary>Runs the device's work on one queue, interrupts if the driver wants it; the caller holds <see cref="Lock"/>.</summary>
    protected void Service(int index)
    {
        if ((uint)index >= _queues.Length) return;
        var queue = _queues[index];
        // Only a driver that completed negotiation gets service: DRIVER_OK without FEATURES_OK is a legacy driver's bring-up.
        const VirtioStatus Live = VirtioStatus.DriverOk | VirtioStatus.FeaturesOk;
        if ((Status & (Live | VirtioStatus.DeviceNeedsReset)) != Live || !queue.IsReady) return;
        ushort before = queue.UsedIndex;
        try
        {
            Process(index, queue);
        }
        catch (MalformedQueueException e)
        {
            Fail($"queue {index}: {e.Message}");
        }
        if (queue.NeedsInterrupt(before)) Interrupts?.UsedBuffer();
    }

    /// <summary>Takes and answers available chains on a queue. Called under <see cref="Lock"/>, only while the driver is up.</summary>
    protected abstract void Process(int index, Virtqueue queue);

    /// <summary>Work that must not run under the lock, e.g. handing output to a console whose handlers may send input back.</summary>
    protected virtual void AfterService() { }

    protected virtual void OnDriverReady() { }

    protected virtual void OnReset() { }

    /// <summary>A config-space write by the driver (most config fields are read-only).</summary>
    protected virtual void OnConfigWrite(int offset, int size, uint value) { }

    /// <summary>Reads the device-specific config space; bytes past its end read as 0.</summary>
    public uint ReadConfig(int offset, int size)
    {
        if (offset < 0 || size is not (1 or 2 or 4) || offset + size > ConfigSpace.Length) return 0;
        lock (Lock)
        {
            var bytes = ConfigSpace.AsSpan(offset, size);
            return size switch
            {
                1 => bytes[0],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
                _ => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            };
        }
    }

    public void WriteConfig(int offset, int size, uint value)
    {
        if (offset < 0 || size is not (1 or 2 or 4) || offset + size > ConfigSpace.Length) return;
        lock (Lock) OnConfigWrite(offset, size, value);
        AfterService();
    }

    public void Reset()
    {
        Status = 0;
        DriverFeatures = 0;
        foreach (var q in _queues) q.Reset();
        OnReset();
    }

    /// <summary>
    /// The device ID and queue count (so a state of another device type at the same place is refused), status, the
    /// driver's features, each queue (<see cref="Virtqueue.SaveState"/>), then what the device type keeps
    /// (<see cref="SaveDeviceState"/>). The transport saves its own registers around this.
    /// </summary>
    public void SaveState(StateWriter writer)
    {
        lock (Lock)
        {
            writer.WriteUInt32(DeviceId);
            writer.WriteInt32(_queues.Length);
            writer.WriteByte((byte)Status);
            writer.WriteUInt64(DriverFeatures);
            foreach (var queue in _queues) queue.SaveState(writer);
            SaveDeviceState(writer);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (Lock)
        {
            const VirtioStatus Known = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.DriverOk |
                VirtioStatus.FeaturesOk | VirtioStatus.DeviceNeedsReset | VirtioStatus.Failed;
            uint deviceId = reader.ReadUInt32();
            int queues = reader.ReadInt32();
            reader.Check(deviceId == DeviceId && queues == _queues.Length,
                $"it holds a virtio device of type {deviceId} with {queues} queues, not this {GetType().Name} (type {DeviceId}, {_queues.Length} queues): it is not of a machine with this definition");
            var status = (VirtioStatus)reader.ReadByte();
            reader.Check((status & ~Known) == 0, $"device status 0x{(byte)status:x} has bits virtio does not define");
            ulong features = reader.ReadUInt64();
            reader.Check((features & ~DeviceFeatures) == 0, $"driver features 0x{features:x} include some this {GetType().Name} does not offer");
            Status = status;
            DriverFeatures = features;
            foreach (var queue in _queues) queue.RestoreState(reader, features);
            RestoreDeviceState(reader);
        }
    }

    /// <summary>What a device type keeps beyond its queues (a chain it holds, bytes not yet passed on); called under <see cref="Lock"/>.</summary>
    protected virtual void SaveDeviceState(StateWriter writer) { }

    protected virtual void RestoreDeviceState(StateReader reader) { }

    /// <summary>
    /// The driver broke the protocol: the device stops serving queues until it is reset (DEVICE_NEEDS_RESET) and tells
    /// the driver with a config interrupt. Logged once, so a guest cannot flood the host's log.
    /// </summary>
    protected void Fail(string why)
    {
        if ((Status & VirtioStatus.DeviceNeedsReset) != 0) return;
        Status |= VirtioStatus.DeviceNeedsReset;
        _log($"{Name}: {why}; the device needs a reset");
        Interrupts?.ConfigChange();
    }

    protected void Log(string message) => _log($"{Name}: {message}");

    public virtual void Dispose() { }
}
