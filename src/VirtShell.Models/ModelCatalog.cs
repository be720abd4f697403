using VirtShell.Engine.Models;
using VirtShell.Models.Container;
using VirtShell.Models.Emulated;

namespace VirtShell.Models;

/// <summary>The four machine models this build knows, in the order Get-VirtModel lists them.</summary>
public static class ModelCatalog
{
    public static ModelRegistry CreateRegistry() => new([
        new EmulatedModel(),
        new PlannedModel("hardware", "hardware virtualization: KVM, emulated PC chipset"),
        new PlannedModel("paravirtual", "paravirtualization: KVM, virtio devices and a hypercall channel"),
        new ContainerModel(),
    ]);
}
