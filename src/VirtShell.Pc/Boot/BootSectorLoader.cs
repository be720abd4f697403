using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Boot;

namespace VirtShell.Pc;

/// <summary>
/// What a PC BIOS does with a boot disk: the first 512-byte sector at 0000:7C00, DL = boot drive 0x80. The image may
/// be longer than a sector (a small guest with no disk driver); all of it is loaded contiguously.
/// </summary>
public sealed class BootSectorLoader : IBootLoader
{
    /// <inheritdoc/>
    public BootKind Kind => BootKind.BootSector;

    /// <inheritdoc/>
    public CpuState Load(BootSpec spec, GuestMemory memory)
    {
        var image = BootLoaders.ReadImage(spec);
        if (image.Length < 512 || image[510] != 0x55 || image[511] != 0xAA)
            throw new DefinitionException($"'{Path.GetFileName(spec.Image)}' is not a boot sector (no 55 AA signature at offset 510)", spec.Source);
        BootLoaders.Place(spec, memory, 0x7C00, image);
        var s = CpuState.RealMode(0, 0x7C00);
        s.Rdx = 0x80;
        s.Rsp = 0x7C00;
        return s;
    }
}
