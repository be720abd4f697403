using System.Text.RegularExpressions;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Scripting.Modules;

namespace VirtShell.Scripting.Definitions;

/// <summary>A hook or script-device function of a definition: which captured function it is, and where it is written.</summary>
internal sealed record ScriptFunction(int Index, SourceLocation At);

/// <summary>What a scriptDevice's definition gives: its access functions and, optionally, its saved-state hooks.</summary>
internal sealed record ScriptDeviceFunctions(ScriptFunction? Read, ScriptFunction? Write, ScriptFunction? SaveState, ScriptFunction? RestoreState);

/// <summary>
/// Reads the default export of a definition module (what <c>machine(...)</c> returned) into a
/// <see cref="MachineSpec"/>. It reads the export's snapshot (<see cref="ScriptData"/>), not live script objects, so it
/// runs anywhere and no script code runs while it does. Every error names the file and line at fault: the
/// constructor call for devices, the property line for machine fields.
/// </summary>
/// <param name="modelSections">Sections a model reads itself; they reach it as plain values in <see cref="MachineSpec.Sections"/>.</param>
/// <param name="sourcePath">The file <paramref name="definitionPath"/> is a stored copy of, which relative paths resolve against; null when it is the original.</param>
internal sealed partial class SpecReader(string definitionPath, DefinitionSources sources, IReadOnlyList<string> modelSections, string? sourcePath = null)
{
    public static readonly string[] HookNames = ["beforeBoot", "onConsoleLine", "onExit"];
    private static readonly string[] MachineKeys = ["name", "model", "arch", "memory", "devices", "boot", "console", "hooks"];
    private static readonly string[] ConsoleKeys = ["maxSize", "maxFiles", "rate", "burst"];
    private static readonly string[] BootKeys = ["image", "type", "load", "entry", "mode", "cmdline", "initrd", "kernel", "modules"];
    private static readonly string[] ScriptDeviceFunctions = ["read", "write", "saveState", "restoreState"];
    private static readonly string[] PathSettings = ["image", "path"];
    /// <summary>Settings that map names to files (hypercalls' blobs): resolved as <see cref="PathSettings"/> are.</summary>
    private static readonly string[] PathMapSettings = ["blobs"];

    private readonly string _folder = Path.GetDirectoryName(sourcePath ?? definitionPath)!;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();

    public static void CheckName(string name, string what, SourceLocation? at)
    {
        if (!NamePattern().IsMatch(name))
            throw new DefinitionException($"{what} '{name}' is not valid: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", at);
    }

    /// <summary>
    /// Reads the snapshot of the default export. <paramref name="scriptDevice"/> makes the implementation of a
    /// scriptDevice from its functions (each null when not given).
    /// </summary>
    public (MachineSpec Spec, IReadOnlyDictionary<string, ScriptFunction>? Hooks) Read(object? exported, string? nameOverride,
        Func<ScriptDeviceFunctions, SourceLocation, IPortDevice> scriptDevice)
    {
        var fileStart = new SourceLocation(definitionPath, 1);
        if (exported is JsMissing)
            throw new DefinitionException("the definition has no default export; end it with `export default machine({ ... })`", fileStart);
        if (exported is not JsObject descriptor || descriptor.Get("__virtshell") as string != "machine" || descriptor.Get("options") is not JsObject options)
            throw new DefinitionException("the default export was not made by machine(...) from 'virtshell'",
                sources.FindText(definitionPath, "export default") ?? fileStart);

        var at = LocationOf(descriptor.Get("__source")) ?? fileStart;
        var sections = new Dictionary<string, object?>();
        foreach (var key in options.Keys)
        {
            if (modelSections.Contains(key))
                sections[key] = JsValues.ToPlain(options.Get(key), key, PropertyAt(at, key));
            else if (!MachineKeys.Contains(key))
                throw new DefinitionException(
                    $"machine(...) has no field '{key}' (fields: {string.Join(", ", MachineKeys.Concat(modelSections))})", PropertyAt(at, key));
        }

        string name = nameOverride ?? RequireString(options, "name", at);
        if (nameOverride == null) CheckName(name, "name", PropertyAt(at, "name"));
        string model = RequireString(options, "model", at);

        var (memory, memoryError) = MemorySize.Parse(Optional(options.Get("memory")));
        if (memoryError != null) throw new DefinitionException(memoryError, PropertyAt(at, "memory"));

        var spec = new MachineSpec
        {
            Name = name,
            Model = model,
            Arch = Optional(options.Get("arch")) is null ? MachineSpec.DefaultArch : RequireString(options, "arch", at),
            MemoryBytes = memory,
            Devices = ReadDevices(options.Get("devices"), at, scriptDevice),
            Boot = ReadBoot(options.Get("boot"), at),
            Console = ReadConsole(options.Get("console"), at),
            DefinitionPath = sourcePath ?? definitionPath,
            Source = at,
            Sections = sections,
        };
        return (spec, ReadHooks(options.Get("hooks"), at));
    }

    private string RequireString(JsObject options, string key, SourceLocation at)
    {
        var value = options.Get(key);
        if (value is JsMissing or null) throw new DefinitionException($"machine(...) needs a '{key}'", at);
        if (value is not string text || text.Trim().Length == 0)
            throw new DefinitionException($"'{key}' must be a non-empty string, not {JsValues.Describe(value)}", PropertyAt(at, key));
        return text;
    }

    private List<DeviceSpec> ReadDevices(object? value, SourceLocation at, Func<ScriptDeviceFunctions, SourceLocation, IPortDevice> scriptDevice)
    {
        var devices = new List<DeviceSpec>();
        if (value is JsMissing) return devices;
        var listAt = PropertyAt(at, "devices");
        if (value is JsHugeArray huge) throw JsValues.TooLong("'devices'", huge, listAt);
        if (value is not JsArray list)
            throw new DefinitionException($"'devices' must be an array of devices, e.g. [uart16550({{ port: 0x3f8 }})], not {JsValues.Describe(value)}", listAt);
        for (int i = 0; i < list.Items.Count; i++)
        {
            var item = list.Items[i];
            if (item is not JsObject device || device.Get("type") is not string type)
                throw new DefinitionException($"devices[{i}] is not a device but {JsValues.Describe(item)}; make it with a constructor from 'virtshell' (uart16550(...), device(type, ...))", listAt);
            var source = LocationOf(device.Get("__source")) ?? listAt;
            devices.Add(ReadDevice(device, type, source, scriptDevice));
        }
        return devices;
    }

    private DeviceSpec ReadDevice(JsObject device, string type, SourceLocation source, Func<ScriptDeviceFunctions, SourceLocation, IPortDevice> scriptDevice)
    {
        bool scripted = type == "scriptDevice";
        var settings = new Dictionary<string, object?>();
        var functions = new Dictionary<string, ScriptFunction>();
        foreach (var (key, value) in device.Entries)
        {
            if (key is "type" or "__source") continue;
            if (value is JsMissing) continue;
            if (scripted && ScriptDeviceFunctions.Contains(key))
            {
                if (value is not JsFunction fn) throw new DefinitionException($"scriptDevice: '{key}' must be a function, not {JsValues.Describe(value)}", source);
                functions[key] = new ScriptFunction(fn.Index, source);
                continue;
            }
            var plain = JsValues.ToPlain(value, $"{type}: '{key}'", source);
            if (PathSettings.Contains(key) && plain is string path) plain = Path.GetFullPath(path, _folder);
            // Against the definition's own folder, not the stored copy's the machine loads it from.
            else if (PathMapSettings.Contains(key) && plain is Dictionary<string, object?> map)
                plain = map.ToDictionary(e => e.Key, e => e.Value is string file && !string.IsNullOrWhiteSpace(file) ? Path.GetFullPath(file, _folder) : e.Value);
            settings[key] = plain;
        }
        return new DeviceSpec
        {
            Type = type,
            Settings = settings,
            Source = source,
            Implementation = scripted ? scriptDevice(new ScriptDeviceFunctions(functions.GetValueOrDefault("read"), functions.GetValueOrDefault("write"),
                functions.GetValueOrDefault("saveState"), functions.GetValueOrDefault("restoreState")), source) : null,
        };
    }

    private BootSpec? ReadBoot(object? value, SourceLocation at)
    {
        if (value is JsMissing) return null;
        var bootAt = PropertyAt(at, "boot");
        if (value is not JsObject boot)
            throw new DefinitionException($"'boot' must be an object: {{ image, load, type, entry, mode }}, not {JsValues.Describe(value)}", bootAt);
        foreach (var key in boot.Keys)
            if (!BootKeys.Contains(key))
                throw new DefinitionException($"boot has no field '{key}' (fields: {string.Join(", ", BootKeys)})", PropertyAt(bootAt, key));

        if (boot.Get("image") is not string image || image.Trim().Length == 0)
            throw new DefinitionException("boot needs an 'image': the path of the guest image, relative to the definition", PropertyAt(bootAt, "image"));
        string imagePath = Path.GetFullPath(image, _folder);
        if (!File.Exists(imagePath))
            throw new DefinitionException($"boot image '{image}' does not exist (looked for {imagePath})", bootAt);

        var kind = Optional(boot.Get("type")) switch
        {
            null or "flat" => BootKind.Flat,
            "bootSector" => BootKind.BootSector,
            "multiboot" => BootKind.Multiboot,
            "linux" => BootKind.Linux,
            "firmware" => BootKind.Firmware,
            var other => throw new DefinitionException($"boot type '{other}' is unknown: use 'flat', 'bootSector', 'multiboot', 'linux' or 'firmware'", PropertyAt(bootAt, "type")),
        };
        if (kind == BootKind.Firmware)
            foreach (var key in new[] { "load", "entry", "mode" })
                if (Optional(boot.Get(key)) is not null)
                    throw new DefinitionException($"boot '{key}' does not apply to firmware, which the CPU starts at its reset vector", PropertyAt(bootAt, key));
        var mode = Optional(boot.Get("mode")) switch
        {
            null or "real" when kind != BootKind.Linux => CpuStartMode.Real,
            null or "protected" => CpuStartMode.Protected,
            "real" => throw new DefinitionException("a Linux kernel starts in 'protected' or 'long' mode", PropertyAt(bootAt, "mode")),
            "long" => CpuStartMode.Long,
            var other => throw new DefinitionException($"boot mode '{other}' is unknown: use 'real', 'protected' or 'long'", PropertyAt(bootAt, "mode")),
        };
        return new BootSpec
        {
            Kind = kind,
            Image = imagePath,
            LoadAddress = Address(boot, "load", bootAt) ?? 0x7C00,
            Entry = Address(boot, "entry", bootAt),
            Mode = mode,
            CommandLine = OptionalString(boot, "cmdline", bootAt),
            Initrd = ExistingFile(OptionalString(boot, "initrd", bootAt), "initrd", bootAt),
            Kernel = ExistingFile(OptionalString(boot, "kernel", bootAt), "kernel", bootAt),
            Modules = ReadModules(boot.Get("modules"), bootAt),
            Source = bootAt,
        };
    }

    private ConsoleLimits ReadConsole(object? value, SourceLocation at)
    {
        var limits = ConsoleLimits.Default;
        if (value is JsMissing) return limits;
        var consoleAt = PropertyAt(at, "console");
        if (value is not JsObject console)
            throw new DefinitionException($"'console' must be an object: {{ maxSize, maxFiles, rate, burst }}, not {JsValues.Describe(value)}", consoleAt);
        foreach (var key in console.Keys)
            if (!ConsoleKeys.Contains(key))
                throw new DefinitionException($"console has no field '{key}' (fields: {string.Join(", ", ConsoleKeys)})", PropertyAt(consoleAt, key));
        long Size(string key, long fallback, long least)
        {
            if (Optional(console.Get(key)) is not { } given) return fallback;
            var (bytes, error) = MemorySize.Bytes(given, $"console {key}");
            if (error == null && bytes < (ulong)least) error = $"console {key} must be at least {least}, not {bytes}";
            if (error == null && bytes > long.MaxValue) error = $"console {key} is too large";
            return error == null ? (long)bytes : throw new DefinitionException(error, PropertyAt(consoleAt, key));
        }
        long rate = Size("rate", limits.Rate, 0);
        var files = Optional(console.Get("maxFiles"));
        if (files is not null && JsValues.AsInteger(files) is not (>= 1 and <= 100))
            throw new DefinitionException($"console maxFiles must be an integer from 1 to 100, not {JsValues.Describe(files)}", PropertyAt(consoleAt, "maxFiles"));
        return new ConsoleLimits
        {
            MaxSize = Size("maxSize", limits.MaxSize, 4096),
            MaxFiles = files is null ? limits.MaxFiles : (int)JsValues.AsInteger(files)!.Value,
            Rate = rate,
            Burst = Size("burst", rate == 0 ? limits.Burst : rate, 1),
        };
    }

    private static string? OptionalString(JsObject owner, string key, SourceLocation at) =>
        Optional(owner.Get(key)) switch
        {
            null => null,
            string text => text,
            var other => throw new DefinitionException($"'{key}' must be a string, not {JsValues.Describe(other)}", at),
        };

    /// <summary>A path relative to the definition that must exist, or null when not given.</summary>
    private string? ExistingFile(string? path, string what, SourceLocation at)
    {
        if (path == null) return null;
        string full = Path.GetFullPath(path, _folder);
        return File.Exists(full) ? full : throw new DefinitionException($"{what} '{path}' does not exist (looked for {full})", at);
    }

    /// <summary>Multiboot modules: [{ path, cmdline }] or plain paths.</summary>
    private List<BootModule> ReadModules(object? value, SourceLocation at)
    {
        var modules = new List<BootModule>();
        if (value is JsMissing) return modules;
        if (value is JsHugeArray huge) throw JsValues.TooLong("boot 'modules'", huge, at);
        if (value is not JsArray list)
            throw new DefinitionException($"boot 'modules' must be an array of paths or {{ path, cmdline }}, not {JsValues.Describe(value)}", at);
        for (int i = 0; i < list.Items.Count; i++)
        {
            var item = list.Items[i];
            var (path, cmdline) = item switch
            {
                string p => (p, (string?)null),
                JsObject o => (OptionalString(o, "path", at), OptionalString(o, "cmdline", at)),
                _ => (null, null),
            };
            modules.Add(new BootModule
            {
                Path = ExistingFile(path ?? throw new DefinitionException($"boot modules[{i}] needs a path", at), $"module {i}", at)!,
                CommandLine = cmdline,
            });
        }
        return modules;
    }

    private ulong? Address(JsObject boot, string key, SourceLocation bootAt)
    {
        var value = Optional(boot.Get(key));
        if (value is null) return null;
        if (JsValues.AsInteger(value) is long n && n >= 0) return (ulong)n;
        throw new DefinitionException($"boot '{key}' must be an address (an integer of 0 or more), not {JsValues.Describe(value)}", PropertyAt(bootAt, key));
    }

    private Dictionary<string, ScriptFunction>? ReadHooks(object? value, SourceLocation at)
    {
        if (value is JsMissing) return null;
        var hooksAt = PropertyAt(at, "hooks");
        if (value is not JsObject hooks)
            throw new DefinitionException($"'hooks' must be an object with any of {string.Join(", ", HookNames)}, not {JsValues.Describe(value)}", hooksAt);
        var found = new Dictionary<string, ScriptFunction>();
        foreach (var (key, fn) in hooks.Entries)
        {
            if (!HookNames.Contains(key))
                throw new DefinitionException($"there is no hook '{key}' (hooks: {string.Join(", ", HookNames)})", PropertyAt(hooksAt, key));
            if (fn is JsMissing) continue;
            if (fn is not JsFunction function)
                throw new DefinitionException($"hook '{key}' must be a function, not {JsValues.Describe(fn)}", PropertyAt(hooksAt, key));
            found[key] = new ScriptFunction(function.Index, sources.FindFunction(function.Source) ?? PropertyAt(hooksAt, key));
        }
        return found.Count > 0 ? found : null;
    }

    private SourceLocation? LocationOf(object? source)
    {
        if (source is not JsObject s || s.Get("file") is not string file) return null;
        int line = (int)Math.Clamp(JsValues.AsInteger(s.Get("line")) ?? 0, 0, int.MaxValue);
        int column = (int)Math.Clamp(JsValues.AsInteger(s.Get("column")) ?? 0, 0, int.MaxValue);
        return line > 0 ? new SourceLocation(sources.Known(file) ?? file, line, column) : null;
    }

    private SourceLocation PropertyAt(SourceLocation from, string key) => sources.FindProperty(from, key) ?? from;

    private static object? Optional(object? value) => value is JsMissing ? null : value;
}
