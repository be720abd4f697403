using VirtShell.Engine.Models;

namespace VirtShell.Models;

/// <summary>The four machine models this build knows, in the order Get-VirtModel lists them.</summary>
public static class ModelCatalog
{
    public static ModelRegistry CreateRegistry() => new([
        new PlannedModel("emulated", "hardware emulation: x86 interpreter, emulated PC chipset"),
        new PlannedModel("hardware", "hardware virtualization: KVM, emulated PC chipset"),
        new PlannedModel("paravirtual", "paravirtualization: KVM, virtio devices and a hypercall channel"),
        new PlannedModel("container", "OS-level virtualization: namespaces and cgroups through an OCI runtime"),
    ]);
}
