using System.Buffers.Binary;
using VirtShell.Devices.Pci;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Virtio;

/// <summary>
/// virtio over PCI, modern interface only (virtio 1.x, 4.1): vendor 0x1af4, device 0x1040 + device ID, and vendor
/// capabilities that place the common, notify, ISR and device-config structures in one memory BAR (plus the PCI_CFG
/// window that reaches them through config space). No MSI-X: the
/// device interrupts through INTx, and the driver reads (and so clears) the ISR to learn why.
/// </summary>
public sealed class VirtioPciTransport : PciFunction, IVirtioInterrupts, IDeviceState, IDiskImageCarrier
{
    public const uint BarSize = 0x4000;
    private const ushort VendorRedHat = 0x1AF4, ModernDeviceBase = 0x1040;
    private const byte CapVendor = 0x09;
    private const byte CfgCommon = 1, CfgNotify = 2, CfgIsr = 3, CfgDevice = 4, CfgPci = 5;
    private const ulong CommonAt = 0x0000, IsrAt = 0x1000, DeviceAt = 0x2000, NotifyAt = 0x3000;
    private const uint CommonLength = 0x38, NotifyMultiplier = 4;
    private const ushort NoVector = 0xFFFF;

    // virtio_pci_common_cfg field offsets.
    private const int DeviceFeatureSelect = 0x00, DeviceFeature = 0x04, DriverFeatureSelect = 0x08, DriverFeature = 0x0C,
        MsixConfig = 0x10, NumQueues = 0x12, DeviceStatus = 0x14, ConfigGeneration = 0x15, QueueSelect = 0x16,
        QueueSize = 0x18, QueueMsixVector = 0x1A, QueueEnable = 0x1C, QueueNotifyOff = 0x1E,
        QueueDescLow = 0x20, QueueDescHigh = 0x24, QueueDriverLow = 0x28, QueueDriverHigh = 0x2C,
        QueueDeviceLow = 0x30, QueueDeviceHigh = 0x34;

    private readonly VirtioDevice _device;
    private uint _deviceFeatureSelect, _driverFeatureSelect;
    private ushort _queueSelect;
    private byte _isr;
    private readonly int _pciCfg; // the VIRTIO_PCI_CAP_PCI_CFG capability: a window onto BAR 0 through config space

    public VirtioPciTransport(VirtioDevice device, uint classCode, uint barAddress, IInterruptController interrupts, int irq)
        : base(VendorRedHat, (ushort)(ModernDeviceBase + device.DeviceId), classCode, revision: 1, VendorRedHat, (ushort)(0x40 + device.DeviceId), interrupts, irq)
    {
        _device = device;
        device.Interrupts = this;
        DefineMemoryBar(0, BarSize, barAddress);
        AddCapability(CapVendor, Capability(CfgCommon, CommonAt, CommonLength));
        AddCapability(CapVendor, Capability(CfgNotify, NotifyAt, NotifyMultiplier * (uint)device.Queues.Count, NotifyMultiplier));
        AddCapability(CapVendor, Capability(CfgIsr, IsrAt, 4));
        AddCapability(CapVendor, Capability(CfgDevice, DeviceAt, 0x1000));
        _pciCfg = AddCapability(CapVendor, Capability(CfgPci, 0, 0, 0));
        AllowGuestWrites(_pciCfg + 4, 1);  // bar
        AllowGuestWrites(_pciCfg + 8, 8);  // offset, length
    }

    private int PciCfgData => _pciCfg + 16;

    protected override bool IsForwarded(int offset) => offset >= PciCfgData && offset < PciCfgData + 4;

    /// <summary>The window's current target: BAR 0 only, 1, 2 or 4 bytes, as the driver set bar, offset and length.</summary>
    private (ulong Offset, int Length)? PciCfgTarget()
    {
        uint length = ReadConfig(_pciCfg + 12, 4);
        return ReadConfig(_pciCfg + 4, 1) == 0 && length is 1 or 2 or 4 ? (ReadConfig(_pciCfg + 8, 4), (int)length) : null;
    }

    protected override uint ReadForwarded(int offset, int size) =>
        PciCfgTarget() is var (at, length) ? (uint)ReadBar(0, at, length) : 0;

    protected override void WriteForwarded(int offset, int size, uint value)
    {
        if (PciCfgTarget() is var (at, length)) WriteBar(0, at, length, value);
    }

    /// <summary>struct virtio_pci_cap after its ID and next pointer: cap_len, cfg_type, bar, id, padding, offset, length, then
    /// the notify multiplier or the PCI_CFG data window.</summary>
    private static byte[] Capability(byte type, ulong offset, uint length, uint? extra = null)
    {
        var body = new byte[extra is null ? 14 : 18];
        body[0] = (byte)(body.Length + 2);
        body[1] = type;
        body[2] = 0; // BAR 0
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(6), (uint)offset);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(10), length);
        if (extra is uint m) BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(14), m);
        return body;
    }

    public override ulong ReadBar(int bar, ulong offset, int size)
    {
        if (offset >= DeviceAt && offset < NotifyAt) return _device.ReadConfig((int)(offset - DeviceAt), size);
        lock (_device.Lock)
        {
            if (offset < CommonLength) return ReadCommon((int)offset, size);
            if (offset == IsrAt)
            {
                // Reading the ISR acknowledges it (4.1.4.5).
                byte isr = _isr;
                _isr = 0;
                SetInterrupt(false);
                return isr;
            }
            return 0;
        }
    }

    public override void WriteBar(int bar, ulong offset, int size, ulong value)
    {
        if (offset >= DeviceAt && offset < NotifyAt)
        {
            _device.WriteConfig((int)(offset - DeviceAt), size, (uint)value);
            return;
        }
        if (offset >= NotifyAt)
        {
            ulong queue = (offset - NotifyAt) / NotifyMultiplier;
            if (queue < (ulong)_device.Queues.Count) _device.Notify((int)queue);
            return;
        }
        lock (_device.Lock)
            if (offset < CommonLength) WriteCommon((int)offset, size, (uint)value);
    }

    private Virtqueue? SelectedQueue => _queueSelect < _device.Queues.Count ? _device.Queues[_queueSelect] : null;

    private uint ReadCommon(int offset, int size)
    {
        var queue = SelectedQueue;
        return (offset, size) switch
        {
            (DeviceFeatureSelect, 4) => _deviceFeatureSelect,
            (DeviceFeature, 4) => _deviceFeatureSelect < 2 ? (uint)(_device.DeviceFeatures >> (int)(32 * _deviceFeatureSelect)) : 0,
            (DriverFeatureSelect, 4) => _driverFeatureSelect,
            (DriverFeature, 4) => _driverFeatureSelect < 2 ? (uint)(_device.DriverFeatures >> (int)(32 * _driverFeatureSelect)) : 0,
            (MsixConfig, 2) or (QueueMsixVector, 2) => NoVector,
            (NumQueues, 2) => (uint)_device.Queues.Count,
            (DeviceStatus, 1) => (uint)_device.Status,
            (ConfigGeneration, 1) => 0, // the config space never changes under the driver
            (QueueSelect, 2) => _queueSelect,
            (QueueSize, 2) => queue?.Size ?? 0u, // 0: no such queue
            (QueueEnable, 2) => queue?.IsReady == true ? 1u : 0u,
            (QueueNotifyOff, 2) => _queueSelect,
            (QueueDescLow, 4) => queue?.ReadAddressHalf(VirtqueueArea.Descriptors, high: false) ?? 0,
            (QueueDescHigh, 4) => queue?.ReadAddressHalf(VirtqueueArea.Descriptors, high: true) ?? 0,
            (QueueDriverLow, 4) => queue?.ReadAddressHalf(VirtqueueArea.Driver, high: false) ?? 0,
            (QueueDriverHigh, 4) => queue?.ReadAddressHalf(VirtqueueArea.Driver, high: true) ?? 0,
            (QueueDeviceLow, 4) => queue?.ReadAddressHalf(VirtqueueArea.Device, high: false) ?? 0,
            (QueueDeviceHigh, 4) => queue?.ReadAddressHalf(VirtqueueArea.Device, high: true) ?? 0,
            _ => 0,
        };
    }

    private void WriteCommon(int offset, int size, uint v)
    {
        var queue = SelectedQueue;
        switch (offset, size)
        {
            case (DeviceFeatureSelect, 4): _deviceFeatureSelect = v; break;
            case (DriverFeatureSelect, 4): _driverFeatureSelect = v; break;
            case (DriverFeature, 4): _device.SetDriverFeatures((int)Math.Min(_driverFeatureSelect, 2), v); break;
            case (DeviceStatus, 1):
                _device.WriteStatus((byte)v);
                if (v == 0)
                {
                    _isr = 0;
                    SetInterrupt(false);
                }
                break;
            case (QueueSelect, 2): _queueSelect = (ushort)v; break;
            case (QueueSize, 2): queue?.WriteSize(v); break;
            // Writing 0 is not allowed (4.1.4.3.2): a queue is turned off only by a device reset.
            case (QueueEnable, 2) when queue is { IsReady: false } && v == 1: _device.EnableQueue(_queueSelect); break;
            case (QueueDescLow, 4): queue?.WriteAddressHalf(VirtqueueArea.Descriptors, high: false, v); break;
            case (QueueDescHigh, 4): queue?.WriteAddressHalf(VirtqueueArea.Descriptors, high: true, v); break;
            case (QueueDriverLow, 4): queue?.WriteAddressHalf(VirtqueueArea.Driver, high: false, v); break;
            case (QueueDriverHigh, 4): queue?.WriteAddressHalf(VirtqueueArea.Driver, high: true, v); break;
            case (QueueDeviceLow, 4): queue?.WriteAddressHalf(VirtqueueArea.Device, high: false, v); break;
            case (QueueDeviceHigh, 4): queue?.WriteAddressHalf(VirtqueueArea.Device, high: true, v); break;
        }
    }

    /// <summary>
    /// The selectors and the ISR, then the device (<see cref="VirtioDevice.SaveState"/>); the host bridge saves the
    /// configuration space and INTx level before. ConfigGeneration is always 0 (the config space never changes).
    /// </summary>
    public void SaveState(StateWriter writer)
    {
        lock (_device.Lock)
        {
            writer.WriteUInt32(_deviceFeatureSelect);
            writer.WriteUInt32(_driverFeatureSelect);
            writer.WriteUInt16(_queueSelect);
            writer.WriteByte(_isr);
            _device.SaveState(writer);
        }
    }

    public void RestoreState(StateReader reader)
    {
        lock (_device.Lock)
        {
            _deviceFeatureSelect = reader.ReadUInt32();
            _driverFeatureSelect = reader.ReadUInt32();
            _queueSelect = reader.ReadUInt16();
            _isr = reader.ReadByte();
            reader.Check(_isr <= 3, $"the ISR 0x{_isr:x} has undefined bits");
            _device.RestoreState(reader);
        }
    }

    public IEnumerable<IDiskImageDevice> DiskImages => _device is IDiskImageDevice disk ? [disk] : [];

    // Called by the device, which holds its lock.
    void IVirtioInterrupts.UsedBuffer() => Raise(1);
    void IVirtioInterrupts.ConfigChange() => Raise(2);

    private void Raise(byte bit)
    {
        _isr |= bit;
        SetInterrupt(true);
    }
}
