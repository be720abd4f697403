using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Boot;

namespace VirtShell.Pc;

/// <summary>A raw image copied to an address; the CPU starts at its entry in real mode or flat 32-bit protected mode.</summary>
public sealed class FlatImageLoader : IBootLoader
{
    /// <inheritdoc/>
    public BootKind Kind => BootKind.Flat;

    /// <inheritdoc/>
    public CpuState Load(BootSpec spec, GuestMemory memory)
    {
        BootLoaders.Place(spec, memory, spec.LoadAddress, BootLoaders.ReadImage(spec));
        ulong entry = spec.Entry ?? spec.LoadAddress;
        if (spec.Mode == CpuStartMode.Real)
        {
            if (entry > 0xFFFFF)
                throw new DefinitionException($"real-mode entry 0x{entry:x} is above 1 MiB", spec.Source);
            // Below 64 KiB start at 0000:entry, as a BIOS jumps to 0000:7C00; above, the segment carries the address.
            return entry <= 0xFFFF
                ? CpuState.RealMode(0, (ushort)entry)
                : CpuState.RealMode((ushort)(entry >> 4), (ushort)(entry & 0xF));
        }
        return ProtectedModeStart.Flat32(entry, codeSelector: 0x08, dataSelector: 0x10);
    }
}
