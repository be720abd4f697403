using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// The device types this build has, and the models that allow each: the one table a new device type is added to.
/// The PC models (emulated, hardware) put them on the emulated chipset's buses; the paravirtual model has virtio on
/// virtio-mmio or virtio-pci and the hypercall channel, which use only RAM, the buses and interrupt lines. The
/// emulated PC has those too, so a paravirtual guest runs (and saves its state) without KVM.
/// </summary>
public static class BuiltInDevices
{
    private static readonly string[] Pc = ["emulated", "hardware"];
    private static readonly string[] Paravirtual = ["paravirtual"];
    private static readonly string[] Emulated = ["emulated"];
    /// <summary>The emulated model's riscv64 virt board: memory-mapped devices only.</summary>
    public const string EmulatedRiscV = "emulated:riscv64";
    private static readonly string[] RiscV = [EmulatedRiscV];

    public static DeviceCatalog Catalog { get; } = new([
        // A paravirtual machine allows one UART, as its early console only (its model checks that).
        (new Uart16550DeviceType(), [.. Pc, .. Paravirtual, .. RiscV]),
        (new DebugExitDeviceType(), Pc),
        (new AtaDiskDeviceType(), Pc),
        (new ScriptDeviceType(), Pc),
        (new PcTestdevDeviceType(), Pc),
        (new FwCfgDeviceType(), Pc),
        (new DebugConsoleDeviceType(), Pc),
        (new VgaTextDeviceType(), Pc),
        (new VirtioConsoleDeviceType(), [.. Emulated, .. Paravirtual, .. RiscV]),
        (new VirtioBlkDeviceType(), [.. Emulated, .. Paravirtual, .. RiscV]),
        (new VirtioRngDeviceType(), [.. Emulated, .. Paravirtual, .. RiscV]),
        (new HypercallsDeviceType(), [.. Emulated, .. Paravirtual]),
    ]);
}
