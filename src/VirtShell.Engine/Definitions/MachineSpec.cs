using System.Text.Json.Serialization;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;

namespace VirtShell.Engine.Definitions;

/// <summary>Where in a definition file a value came from, so errors can point at it.</summary>
public sealed record SourceLocation(string File, int Line, int Column = 0)
{
    public override string ToString() => Column > 0 ? $"{File}:{Line}:{Column}" : $"{File}:{Line}";
}

/// <summary>A validated machine definition: what a model needs to build the machine.</summary>
public sealed record MachineSpec
{
    public required string Name { get; init; }
    public required string Model { get; init; }
    public required ulong MemoryBytes { get; init; }
    public IReadOnlyList<DeviceSpec> Devices { get; init; } = [];
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
    public SourceLocation? Source { get; init; }
}

/// <summary>One device: its type, its settings as the definition gave them, and where it was declared.</summary>
public sealed record DeviceSpec
{
    public required string Type { get; init; }
    public IReadOnlyDictionary<string, object?> Settings { get; init; } = new Dictionary<string, object?>();
    public SourceLocation? Source { get; init; }

    /// <summary>A device implemented by the definition itself (a JS <c>scriptDevice</c>); not persisted.</summary>
    [JsonIgnore] public IPortDevice? Implementation { get; init; }

    public string Describe() => Source is null ? Type : $"{Type} at {Source}";

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

public enum BootKind { Flat, BootSector, Multiboot, Linux, Firmware }

public enum CpuStartMode
{
    Real,
    Protected,
    /// <summary>64-bit long mode with identity-mapped paging (the Linux 64-bit boot protocol); KVM only, the interpreter has no long mode.</summary>
    Long,
}

/// <summary>How to put the guest into memory and where the CPU starts.</summary>
public sealed record BootSpec
{
    public BootKind Kind { get; init; } = BootKind.Flat;
    /// <summary>Absolute path of the image.</summary>
    public required string Image { get; init; }
    public ulong LoadAddress { get; init; } = 0x7C00;
    public ulong? Entry { get; init; }
    public CpuStartMode Mode { get; init; } = CpuStartMode.Real;
    /// <summary>The kernel command line (Multiboot, Linux).</summary>
    public string? CommandLine { get; init; }
    /// <summary>Absolute path of the initial RAM disk (Linux).</summary>
    public string? Initrd { get; init; }
    /// <summary>Multiboot modules, loaded in this order after the kernel.</summary>
    public IReadOnlyList<BootModule> Modules { get; init; } = [];
    public SourceLocation? Source { get; init; }
}

/// <summary>A file a Multiboot loader places in memory for the kernel, with the string the kernel sees for it.</summary>
public sealed record BootModule
{
    /// <summary>Absolute path of the file.</summary>
    public required string Path { get; init; }
    public string? CommandLine { get; init; }
}
