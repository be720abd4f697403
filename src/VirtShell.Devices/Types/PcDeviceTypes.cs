using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>The device types a definition may name on a machine with the emulated PC chipset.</summary>
public static class PcDeviceTypes
{
    public static IReadOnlyList<IDeviceType> All { get; } = [new Uart16550DeviceType(), new DebugExitDeviceType(), new AtaDiskDeviceType(), new ScriptDeviceType(),
        new FwCfgDeviceType(), new DebugConsoleDeviceType()];

    public static IDeviceType? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
