using VirtShell.Engine.Models;
using VirtShell.Models.Container;
using VirtShell.Models.Emulated;
using VirtShell.Models.Hardware;

namespace VirtShell.Models;

/// <summary>The four machine models this build knows, in the order Get-VirtModel lists them.</summary>
public static class ModelCatalog
{
    public static ModelRegistry CreateRegistry() => new([
        new EmulatedModel(),
        new HardwareModel(),
        new PlannedModel("paravirtual", "paravirtualization: KVM, virtio devices and a hypercall channel"),
        new ContainerModel(),
    ]);
}
