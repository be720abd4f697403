using System.Text.Json.Serialization;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;

namespace VirtShell.Engine.Definitions;

/// <summary>Where in a definition file a value came from, so errors can point at it.</summary>
public sealed record SourceLocation(string File, int Line, int Column = 0)
{
    /// <summary>"file:line:column", or "file:line" when the column is unknown.</summary>
    public override string ToString() => Column > 0 ? $"{File}:{Line}:{Column}" : $"{File}:{Line}";
}

/// <summary>A validated machine definition: what a model needs to build the machine.</summary>
public sealed record MachineSpec
{
    /// <summary>The machine's name, unique in the store.</summary>
    public required string Name { get; init; }
    /// <summary>The model that runs it, as registered in <see cref="Models.ModelRegistry"/> (e.g. "emulated").</summary>
    public required string Model { get; init; }
    /// <summary>The guest's instruction set: <see cref="DefaultArch"/> unless the definition says otherwise (<c>arch: 'riscv64'</c>).</summary>
    public string Arch { get; init; } = DefaultArch;
    /// <summary>The architecture a definition without <c>arch</c> gets.</summary>
    public const string DefaultArch = "x86_64";
    /// <summary>Guest RAM in bytes.</summary>
    public required ulong MemoryBytes { get; init; }
    /// <summary>The devices, in the order the definition declares them.</summary>
    public IReadOnlyList<DeviceSpec> Devices { get; init; } = [];
    /// <summary>How the guest is loaded; null for models that do not boot an image (containers).</summary>
    public BootSpec? Boot { get; init; }
    /// <summary>console.log rotation and the guest output rate limit (the definition's <c>console</c> section).</summary>
    public ConsoleLimits Console { get; init; } = ConsoleLimits.Default;
    /// <summary>
    /// Top-level sections of the definition the engine does not interpret itself, for the model that does (e.g.
    /// <c>container: {...}</c>), as plain values: long, double, bool, string, lists and string-keyed dictionaries.
    /// </summary>
    public IReadOnlyDictionary<string, object?> Sections { get; init; } = new Dictionary<string, object?>();
    /// <summary>The definition file, absolute; relative paths in it were resolved against its folder.</summary>
    public string? DefinitionPath { get; init; }
    /// <summary>Where the machine was declared, for errors about it as a whole.</summary>
    public SourceLocation? Source { get; init; }
}

/// <summary>One device: its type, its settings as the definition gave them, and where it was declared.</summary>
public sealed record DeviceSpec
{
    /// <summary>The device type's name, as <see cref="Devices.DeviceCatalog"/> knows it.</summary>
    public required string Type { get; init; }
    /// <summary>The device's settings as plain values (or <see cref="System.Text.Json.JsonElement"/> when read back from the store); read them with <see cref="GetInteger"/> and <see cref="GetBoolean"/>.</summary>
    public IReadOnlyDictionary<string, object?> Settings { get; init; } = new Dictionary<string, object?>();
    /// <summary>Where the device was declared.</summary>
    public SourceLocation? Source { get; init; }

    /// <summary>A device implemented by the definition itself (a JS <c>scriptDevice</c>); not persisted.</summary>
    [JsonIgnore] public IPortDevice? Implementation { get; init; }

    /// <summary>The type and where it was declared, to start an error message with.</summary>
    public string Describe() => Source is null ? Type : $"{Type} at {Source}";

    /// <summary>The integer setting <paramref name="key"/>, or <paramref name="fallback"/> when absent.</summary>
    /// <exception cref="DefinitionException">The value is not an integer, or it is absent and there is no fallback.</exception>
    public long GetInteger(string key, long? fallback = null)
    {
        if (Settings.TryGetValue(key, out var v) && v is not null)
            return v switch
            {
                int i => i, long l => l, double d when d == Math.Floor(d) => (long)d,
                System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.Number } j => j.GetInt64(),
                _ => throw new DefinitionException($"{Describe()}: '{key}' must be an integer, not {v}", Source),
            };
        return fallback ?? throw new DefinitionException($"{Describe()}: '{key}' is required", Source);
    }

    /// <summary>The boolean setting <paramref name="key"/>, or <paramref name="fallback"/> when absent.</summary>
    /// <exception cref="DefinitionException">The value is not true or false.</exception>
    public bool GetBoolean(string key, bool fallback = false) =>
        Settings.TryGetValue(key, out var v) && v is not null
            ? v switch
            {
                bool b => b,
                System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.True } => true,
                System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.False } => false,
                _ => throw new DefinitionException($"{Describe()}: '{key}' must be true or false, not {v}", Source),
            }
            : fallback;
}

/// <summary>The image format, which picks the platform's loader (the PC's <c>VirtShell.Pc.IBootLoader</c>s; the riscv64 board takes firmware).</summary>
public enum BootKind
{
    /// <summary>Raw bytes at <see cref="BootSpec.LoadAddress"/>.</summary>
    Flat,
    /// <summary>A 512-byte boot sector at 0x7C00, as a BIOS would load it.</summary>
    BootSector,
    /// <summary>A Multiboot (1) kernel and its modules.</summary>
    Multiboot,
    /// <summary>A Linux bzImage with the x86 boot protocol.</summary>
    Linux,
    /// <summary>A firmware ROM (BIOS) mapped below 4 GiB; the guest boots itself.</summary>
    Firmware,
}

/// <summary>The CPU mode a loader leaves the guest in.</summary>
public enum CpuStartMode
{
    /// <summary>Real mode.</summary>
    Real,
    /// <summary>32-bit protected mode with flat segments, paging off.</summary>
    Protected,
    /// <summary>64-bit long mode with identity-mapped paging (the Linux 64-bit boot protocol); KVM only, the interpreter has no long mode.</summary>
    Long,
}

/// <summary>How to put the guest into memory and where the CPU starts.</summary>
public sealed record BootSpec
{
    /// <summary>The image format.</summary>
    public BootKind Kind { get; init; } = BootKind.Flat;
    /// <summary>Absolute path of the image.</summary>
    public required string Image { get; init; }
    /// <summary>Guest-physical address a flat image is placed at.</summary>
    public ulong LoadAddress { get; init; } = 0x7C00;
    /// <summary>Where the CPU starts in a flat image; null for <see cref="LoadAddress"/>.</summary>
    public ulong? Entry { get; init; }
    /// <summary>The CPU mode at entry: for flat images, and <see cref="CpuStartMode.Long"/> picks a Linux kernel's 64-bit entry.</summary>
    public CpuStartMode Mode { get; init; } = CpuStartMode.Real;
    /// <summary>The kernel command line (Multiboot, Linux).</summary>
    public string? CommandLine { get; init; }
    /// <summary>Absolute path of the kernel firmware hands over to (RISC-V: OpenSBI's fw_jump jumps to it in S-mode).</summary>
    public string? Kernel { get; init; }
    /// <summary>Absolute path of the initial RAM disk (Linux).</summary>
    public string? Initrd { get; init; }
    /// <summary>Multiboot modules, loaded in this order after the kernel.</summary>
    public IReadOnlyList<BootModule> Modules { get; init; } = [];
    /// <summary>Where the boot section was declared.</summary>
    public SourceLocation? Source { get; init; }
}

/// <summary>A file a Multiboot loader places in memory for the kernel, with the string the kernel sees for it.</summary>
public sealed record BootModule
{
    /// <summary>Absolute path of the file.</summary>
    public required string Path { get; init; }
    /// <summary>The module's string; null for none.</summary>
    public string? CommandLine { get; init; }
}
