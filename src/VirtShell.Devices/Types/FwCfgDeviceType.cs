using VirtShell.Devices.Platform;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>fwCfg({ serialConsole: false })</c>: QEMU's fw_cfg at 0x510/0x511, which SeaBIOS reads to learn the machine: one
/// CPU, the RAM as <c>etc/e820</c>, no boot menu, and with <c>serialConsole</c> the no-graphics flag, on which
/// SeaBIOS shows its screen (and the boot loader's INT 10h text) on COM1.
/// </summary>
public sealed class FwCfgDeviceType : IDeviceType
{
    private const uint E820Ram = 1;

    public string Name => "fwCfg";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, "serialConsole");
        spec.GetBoolean("serialConsole");
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [(FwCfg.SelectorPort, FwCfg.PortCount)];

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var fwCfg = new FwCfg(noGraphic: spec.GetBoolean("serialConsole"));
        // The machine's RAM is the block at 0; the firmware carves the legacy holes out of it itself.
        var ram = context.Memory.FindBlock(0) ?? throw DeviceSettings.Error(spec, "the machine has no RAM at address 0");
        fwCfg.AddFile("etc/e820", FwCfg.E820Table([(0, ram.Size, E820Ram)]));
        fwCfg.Register(context.Ports);
        return null;
    }
}
