using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// The device types of an adapted guest: virtio devices on virtio-mmio and the hypercall channel. They use only RAM,
/// the buses and interrupt lines, so they run on either CPU backend; the paravirtual model composes them with KVM.
/// </summary>
public static class ParavirtualDeviceTypes
{
    public static IReadOnlyList<IDeviceType> All { get; } =
        [new VirtioConsoleDeviceType(), new VirtioBlkDeviceType(), new VirtioRngDeviceType(), new HypercallsDeviceType()];

    public static IDeviceType? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
