using VirtShell.Devices.Pci;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Virtio;

/// <summary>
/// virtio over memory-mapped registers, version 2 ("modern", virtio 1.x, 4.2.2): one 0x200-byte window per device,
/// registers from 0 to 0xff, the device's config space from 0x100. The interrupt is a level line held high while
/// InterruptStatus has a bit set; the driver clears bits through InterruptACK. Devices may share a line.
/// </summary>
public sealed class VirtioMmioTransport : IMmioDevice, IVirtioInterrupts, IDeviceState, IDiskImageCarrier
{
    public const ulong WindowSize = 0x200;

    private const uint MagicValue = 0x7472_6976; // "virt"
    private const uint VendorId = 0x4C48_5356;   // "VSHL"
    private const uint InterruptUsedBuffer = 1, InterruptConfigChange = 2;

    // Register offsets, as in the spec's table.
    private const int Magic = 0x000, Version = 0x004, DeviceIdReg = 0x008, Vendor = 0x00c,
        DeviceFeatures = 0x010, DeviceFeaturesSel = 0x014, DriverFeatures = 0x020, DriverFeaturesSel = 0x024,
        QueueSel = 0x030, QueueNumMax = 0x034, QueueNum = 0x038, QueueReady = 0x044, QueueNotify = 0x050,
        InterruptStatus = 0x060, InterruptAck = 0x064, Status = 0x070,
        QueueDescLow = 0x080, QueueDescHigh = 0x084, QueueDriverLow = 0x090, QueueDriverHigh = 0x094,
        QueueDeviceLow = 0x0a0, QueueDeviceHigh = 0x0a4, ShmLenLow = 0x0b0, ShmLenHigh = 0x0b4,
        ShmBaseLow = 0x0b8, ShmBaseHigh = 0x0bc, ConfigGeneration = 0x0fc, Config = 0x100;

    private readonly VirtioDevice _device;
    private readonly ulong _base;
    private readonly InterruptLine _pin;
    private uint _deviceFeaturesSel, _driverFeaturesSel, _queueSel, _interruptStatus;

    public VirtioMmioTransport(VirtioDevice device, ulong baseAddress, int irq, IInterruptController interrupts)
    {
        _device = device;
        _base = baseAddress;
        _pin = interrupts.Connect(irq);
        device.Interrupts = this;
    }

    public ulong ReadMmio(ulong address, int size)
    {
        int offset = (int)(address - _base);
        if (offset >= Config) return _device.ReadConfig(offset - Config, size);
        lock (_device.Lock)
        {
            // Registers below the config space are 32 bits wide and only read whole (4.2.2.2).
            if (size != 4 || offset % 4 != 0) return 0;
            var queue = _queueSel < _device.Queues.Count ? _device.Queues[(int)_queueSel] : null;
            return offset switch
            {
                Magic => MagicValue,
                Version => 2,
                DeviceIdReg => _device.DeviceId,
                Vendor => VendorId,
                DeviceFeatures => _deviceFeaturesSel < 2 ? (uint)(_device.DeviceFeatures >> (int)(32 * _deviceFeaturesSel)) : 0,
                QueueNumMax => queue?.MaxQueueSize ?? 0u,
                QueueReady => queue?.IsReady == true ? 1u : 0u,
                InterruptStatus => _interruptStatus,
                Status => (uint)_device.Status,
                // No shared memory regions: a length of -1 says the selected one does not exist.
                ShmLenLow or ShmLenHigh or ShmBaseLow or ShmBaseHigh => 0xFFFF_FFFFu,
                // The config space never changes under the driver, so its generation stays put.
                ConfigGeneration => 0,
                _ => 0,
            };
        }
    }

    public void WriteMmio(ulong address, int size, ulong value)
    {
        int offset = (int)(address - _base);
        uint v = (uint)value;
        int notify = -1;
        if (offset >= Config)
        {
            _device.WriteConfig(offset - Config, size, v);
            return;
        }
        lock (_device.Lock)
        {
            if (size != 4 || offset % 4 != 0) return;
            var queue = _queueSel < _device.Queues.Count ? _device.Queues[(int)_queueSel] : null;
            switch (offset)
            {
                case DeviceFeaturesSel: _deviceFeaturesSel = v; break;
                case DriverFeaturesSel: _driverFeaturesSel = v; break;
                case DriverFeatures: _device.SetDriverFeatures((int)Math.Min(_driverFeaturesSel, 2), v); break;
                case QueueSel: _queueSel = v; break;
                case QueueNum: queue?.WriteSize(v); break;
                case QueueReady when queue != null:
                    if ((v & 1) != 0 && !queue.IsReady) _device.EnableQueue((int)_queueSel);
                    else if ((v & 1) == 0) queue.Reset();
                    break;
                case QueueNotify: notify = (int)Math.Min(v, int.MaxValue); break;
                case InterruptAck:
                    _interruptStatus &= ~v;
                    UpdateLine();
                    break;
                case Status:
                    _device.WriteStatus((byte)v);
                    if (v == 0)
                    {
                        _interruptStatus = 0;
                        UpdateLine();
                    }
                    break;
                case QueueDescLow: queue?.WriteAddressHalf(VirtqueueArea.Descriptors, high: false, v); break;
                case QueueDescHigh: queue?.WriteAddressHalf(VirtqueueArea.Descriptors, high: true, v); break;
                case QueueDriverLow: queue?.WriteAddressHalf(VirtqueueArea.Driver, high: false, v); break;
                case QueueDriverHigh: queue?.WriteAddressHalf(VirtqueueArea.Driver, high: true, v); break;
                case QueueDeviceLow: queue?.WriteAddressHalf(VirtqueueArea.Device, high: false, v); break;
                case QueueDeviceHigh: queue?.WriteAddressHalf(VirtqueueArea.Device, high: true, v); break;
            }
        }
        // Outside the lock: the device takes it itself and may have work to finish after releasing it.
        if (notify >= 0) _device.Notify(notify);
    }

    /// <summary>
    /// The selectors, InterruptStatus and the line's level, then the device (<see cref="VirtioDevice.SaveState"/>).
    /// ConfigGeneration is not state: it is always 0, since the config space never changes under the driver.
    /// </summary>
    public void SaveState(StateWriter writer)
    {
        lock (_device.Lock)
        {
            writer.WriteUInt32(_deviceFeaturesSel);
            writer.WriteUInt32(_driverFeaturesSel);
            writer.WriteUInt32(_queueSel);
            writer.WriteUInt32(_interruptStatus);
            writer.WriteBool(_pin.Asserted);
            _device.SaveState(writer);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_device.Lock)
        {
            _deviceFeaturesSel = reader.ReadUInt32();
            _driverFeaturesSel = reader.ReadUInt32();
            _queueSel = reader.ReadUInt32();
            _interruptStatus = reader.ReadUInt32();
            reader.Check(_interruptStatus <= (InterruptUsedBuffer | InterruptConfigChange), $"InterruptStatus 0x{_interruptStatus:x} has undefined bits");
            _pin.RestoreLevel(reader.ReadBool());
            _device.RestoreState(reader);
        }
    }

    public IEnumerable<IDiskImageDevice> DiskImages => _device is IDiskImageDevice disk ? [disk] : [];

    // Called by the device, which holds its lock.
    void IVirtioInterrupts.UsedBuffer() => Raise(InterruptUsedBuffer);
    void IVirtioInterrupts.ConfigChange() => Raise(InterruptConfigChange);

    private void Raise(uint bit)
    {
        _interruptStatus |= bit;
        UpdateLine();
    }

    private void UpdateLine() => _pin.Set(_interruptStatus != 0);
}
