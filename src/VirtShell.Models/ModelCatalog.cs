using VirtShell.Devices;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Models;
using VirtShell.Models.Container;
using VirtShell.Models.Emulated;
using VirtShell.Models.Hardware;
using VirtShell.Models.Paravirtual;

namespace VirtShell.Models;

/// <summary>The four machine models this build knows, in the order Get-VirtModel lists them.</summary>
public static class ModelCatalog
{
    /// <param name="home">The $VIRTSHELL_HOME the models keep host-side state under (container images, runc state).</param>
    /// <param name="devices">The device types the VM models offer; by default <see cref="BuiltInDevices.Catalog"/>.</param>
    public static ModelRegistry CreateRegistry(string home, DeviceCatalog? devices = null) => new([
        new EmulatedModel(devices),
        new HardwareModel(devices),
        new ParavirtualModel(devices),
        new ContainerModel(home),
    ]);
}
