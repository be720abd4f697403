namespace VirtShell.Devices.Virtio;

/// <summary>Device status bits a driver writes as it brings a device up (virtio 1.x, 2.1).</summary>
[Flags]
public enum VirtioStatus : byte
{
    Acknowledge = 1,
    Driver = 2,
    DriverOk = 4,
    FeaturesOk = 8,
    /// <summary>Set by the device: it met an error it cannot recover from until the driver resets it.</summary>
    DeviceNeedsReset = 64,
    Failed = 128,
}

/// <summary>Feature bits shared by every device type (virtio 1.x, 6); device-specific bits are below 24.</summary>
public static class VirtioFeatures
{
    public const int IndirectDescriptors = 28;
    public const int EventIndex = 29;
    public const int Version1 = 32;

    public static ulong Bit(int bit) => 1UL << bit;
}

/// <summary>Device IDs (virtio 1.x, 5).</summary>
public static class VirtioDeviceId
{
    public const uint Block = 2, Console = 3, Entropy = 4;
}
