using VirtShell.Engine.Definitions;

namespace VirtShell.Engine.Devices;

/// <summary>
/// A device type whose instances claim physical address ranges on the MMIO bus, so that a model can find overlaps
/// (with each other and with RAM) before anything boots, as it does for ports with <see cref="IDeviceType.Ports"/>.
/// </summary>
public interface IMmioDeviceType
{
    /// <summary>The guest-physical ranges an instance with these settings claims.</summary>
    IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec);
}
