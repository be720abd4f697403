using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Boot;

namespace VirtShell.Pc;

/// <summary>
/// Puts a guest into memory and says how the CPU starts. Backend-neutral: the same output boots on the
/// interpreter and on KVM.
/// </summary>
public interface IBootLoader
{
    /// <summary>The image format this loader handles, one loader per kind.</summary>
    BootKind Kind { get; }

    /// <summary>Memory outside RAM the image needs (a ROM at the top of 4 GiB); the platform adds it before the CPU exists.</summary>
    IEnumerable<(ulong Start, ulong Length)> Regions(BootSpec spec) => [];

    /// <summary>
    /// Writes the image (and what the format adds: command line, modules, tables) into <paramref name="memory"/> and
    /// returns the CPU state to start from. RAM and <see cref="Regions"/> must exist already.
    /// </summary>
    /// <exception cref="DefinitionException">The image cannot be read, is not of this kind, or does not fit; the message names the file.</exception>
    CpuState Load(BootSpec spec, GuestMemory memory);
}

/// <summary>The loaders by <see cref="BootKind"/>: what a model calls, never a loader directly.</summary>
public static class BootLoaders
{
    private static readonly IBootLoader[] All = [new FlatImageLoader(), new BootSectorLoader(), new MultibootLoader(), new LinuxBootLoader(), new FirmwareLoader()];

    /// <inheritdoc cref="IBootLoader.Load"/>
    public static CpuState Load(BootSpec spec, GuestMemory memory) => For(spec).Load(spec, memory);

    /// <inheritdoc cref="IBootLoader.Regions"/>
    public static IEnumerable<(ulong Start, ulong Length)> Regions(BootSpec spec) => For(spec).Regions(spec);

    private static IBootLoader For(BootSpec spec) =>
        All.FirstOrDefault(l => l.Kind == spec.Kind) ?? throw new DefinitionException($"no boot loader for boot type {spec.Kind}", spec.Source);

    internal static byte[] ReadImage(BootSpec spec)
    {
        try { return GuestFiles.Read(spec.Image, Array.MaxLength, "a byte array can hold"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DefinitionException($"boot image '{spec.Image}' cannot be read: {e.Message}", spec.Source);
        }
    }

    internal static void Place(BootSpec spec, GuestMemory memory, ulong address, byte[] image)
    {
        if (!memory.IsRam(address, (ulong)image.Length))
            throw new DefinitionException(
                $"boot image '{Path.GetFileName(spec.Image)}' ({image.Length} bytes) does not fit in RAM at 0x{address:x}", spec.Source);
        memory.Write(address, image);
    }
}
