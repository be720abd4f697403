namespace VirtShell.Engine.State;

/// <summary>
/// A device whose contents live in a disk image file: a checkpoint captures the file beside the saved state
/// (<see cref="DiskCapture"/>), since the state holds only the device's registers.
/// </summary>
public interface IDiskImageDevice
{
    /// <summary>The image file's path.</summary>
    string ImagePath { get; }

    /// <summary>Whether the guest can write it; a read-only image need not be captured.</summary>
    bool ReadOnly { get; }
}

/// <summary>
/// A device on a bus that carries others, some of which may be backed by disk images (a virtio transport and its
/// device, a PCI host bridge and its functions): a checkpoint finds the images through it.
/// </summary>
public interface IDiskImageCarrier
{
    /// <summary>The disk image devices it carries; none for most.</summary>
    IEnumerable<IDiskImageDevice> DiskImages { get; }
}
