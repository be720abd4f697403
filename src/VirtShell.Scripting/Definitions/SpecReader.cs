using System.Text.RegularExpressions;
using Microsoft.ClearScript;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Scripting.Modules;

namespace VirtShell.Scripting.Definitions;

/// <summary>The script side of a definition the hooks need: its hook functions and where each one is.</summary>
internal sealed record HookFunctions(ScriptObject Target, IReadOnlyDictionary<string, SourceLocation> Locations);

/// <summary>
/// Reads the default export of a definition module (what <c>machine(...)</c> returned) into a
/// <see cref="MachineSpec"/>. Runs on the script thread: it walks live script objects. Every error names the file
/// and line at fault: the constructor call for devices, the property line for machine fields.
/// </summary>
internal sealed partial class SpecReader(string definitionPath, DefinitionSources sources, Func<object, string> sourceOfFunction)
{
    public static readonly string[] HookNames = ["beforeBoot", "onConsoleLine", "onExit"];
    private static readonly string[] MachineKeys = ["name", "model", "memory", "devices", "boot", "hooks"];
    /// <summary>Sections a model reads itself; they reach it as plain values in <see cref="MachineSpec.Sections"/>.</summary>
    private static readonly string[] ModelSections = ["container"];
    private static readonly string[] BootKeys = ["image", "type", "load", "entry", "mode", "cmdline", "initrd", "modules"];
    private static readonly string[] ScriptDeviceFunctions = ["read", "write"];
    private static readonly string[] PathSettings = ["image", "path"];

    private readonly string _folder = Path.GetDirectoryName(definitionPath)!;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();

    public static void CheckName(string name, string what, SourceLocation? at)
    {
        if (!NamePattern().IsMatch(name))
            throw new DefinitionException($"{what} '{name}' is not valid: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", at);
    }

    public (MachineSpec Spec, HookFunctions? Hooks) Read(ScriptObject moduleNamespace, string? nameOverride,
        Func<ScriptObject, SourceLocation, IPortDevice> scriptDevice)
    {
        var fileStart = new SourceLocation(definitionPath, 1);
        var exported = moduleNamespace.GetProperty("default");
        if (exported is Undefined)
            throw new DefinitionException("the definition has no default export; end it with `export default machine({ ... })`", fileStart);
        if (exported is not ScriptObject descriptor || descriptor.GetProperty("__virtshell") as string != "machine")
            throw new DefinitionException("the default export was not made by machine(...) from 'virtshell'",
                sources.FindText(definitionPath, "export default") ?? fileStart);

        var at = LocationOf(descriptor.GetProperty("__source")) ?? fileStart;
        var options = (ScriptObject)descriptor.GetProperty("options");
        var sections = new Dictionary<string, object?>();
        foreach (var key in options.PropertyNames)
        {
            if (ModelSections.Contains(key))
                sections[key] = JsValues.ToPlain(options.GetProperty(key), key, PropertyAt(at, key));
            else if (!MachineKeys.Contains(key))
                throw new DefinitionException(
                    $"machine(...) has no field '{key}' (fields: {string.Join(", ", MachineKeys.Concat(ModelSections))})", PropertyAt(at, key));
        }

        string name = nameOverride ?? RequireString(options, "name", at);
        if (nameOverride == null) CheckName(name, "name", PropertyAt(at, "name"));
        string model = RequireString(options, "model", at);

        var (memory, memoryError) = MemorySize.Parse(Optional(options.GetProperty("memory")));
        if (memoryError != null) throw new DefinitionException(memoryError, PropertyAt(at, "memory"));

        var spec = new MachineSpec
        {
            Name = name,
            Model = model,
            MemoryBytes = memory,
            Devices = ReadDevices(options.GetProperty("devices"), at, scriptDevice),
            Boot = ReadBoot(options.GetProperty("boot"), at),
            DefinitionPath = definitionPath,
            Source = at,
            Sections = sections,
        };
        return (spec, ReadHooks(options.GetProperty("hooks"), at));
    }

    private string RequireString(ScriptObject options, string key, SourceLocation at)
    {
        var value = options.GetProperty(key);
        if (value is Undefined or null) throw new DefinitionException($"machine(...) needs a '{key}'", at);
        if (value is not string text || text.Trim().Length == 0)
            throw new DefinitionException($"'{key}' must be a non-empty string", PropertyAt(at, key));
        return text;
    }

    private List<DeviceSpec> ReadDevices(object? value, SourceLocation at, Func<ScriptObject, SourceLocation, IPortDevice> scriptDevice)
    {
        var devices = new List<DeviceSpec>();
        if (value is Undefined) return devices;
        var listAt = PropertyAt(at, "devices");
        if (value is not ScriptObject list || !JsValues.IsArray(value))
            throw new DefinitionException("'devices' must be an array of devices, e.g. [uart16550({ port: 0x3f8 })]", listAt);
        int count = (int)(JsValues.AsInteger(list.GetProperty("length")) ?? 0);
        for (int i = 0; i < count; i++)
        {
            var item = list.GetProperty(i);
            if (item is not ScriptObject device || !JsValues.IsPlainObject(item) || device.GetProperty("type") is not string type)
                throw new DefinitionException($"devices[{i}] is not a device; make it with a constructor from 'virtshell' (uart16550(...), device(type, ...))", listAt);
            var source = LocationOf(device.GetProperty("__source")) ?? listAt;
            devices.Add(ReadDevice(device, type, source, scriptDevice));
        }
        return devices;
    }

    private DeviceSpec ReadDevice(ScriptObject device, string type, SourceLocation source, Func<ScriptObject, SourceLocation, IPortDevice> scriptDevice)
    {
        bool scripted = type == "scriptDevice";
        var settings = new Dictionary<string, object?>();
        foreach (var key in device.PropertyNames)
        {
            if (key is "type" or "__source") continue;
            var value = device.GetProperty(key);
            if (value is Undefined) continue;
            if (scripted && ScriptDeviceFunctions.Contains(key))
            {
                if (!JsValues.IsFunction(value)) throw new DefinitionException($"scriptDevice: '{key}' must be a function", source);
                continue;
            }
            var plain = JsValues.ToPlain(value, $"{type}: '{key}'", source);
            if (PathSettings.Contains(key) && plain is string path) plain = Path.GetFullPath(path, _folder);
            settings[key] = plain;
        }
        return new DeviceSpec
        {
            Type = type,
            Settings = settings,
            Source = source,
            Implementation = scripted ? scriptDevice(device, source) : null,
        };
    }

    private BootSpec? ReadBoot(object? value, SourceLocation at)
    {
        if (value is Undefined) return null;
        var bootAt = PropertyAt(at, "boot");
        if (value is not ScriptObject boot || !JsValues.IsPlainObject(value))
            throw new DefinitionException("'boot' must be an object: { image, load, type, entry, mode }", bootAt);
        foreach (var key in boot.PropertyNames)
            if (!BootKeys.Contains(key))
                throw new DefinitionException($"boot has no field '{key}' (fields: {string.Join(", ", BootKeys)})", PropertyAt(bootAt, key));

        if (boot.GetProperty("image") is not string image || image.Trim().Length == 0)
            throw new DefinitionException("boot needs an 'image': the path of the guest image, relative to the definition", PropertyAt(bootAt, "image"));
        string imagePath = Path.GetFullPath(image, _folder);
        if (!File.Exists(imagePath))
            throw new DefinitionException($"boot image '{image}' does not exist (looked for {imagePath})", bootAt);

        var kind = Optional(boot.GetProperty("type")) switch
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
                if (Optional(boot.GetProperty(key)) is not null)
                    throw new DefinitionException($"boot '{key}' does not apply to firmware, which the CPU starts at its reset vector", PropertyAt(bootAt, key));
        var mode = Optional(boot.GetProperty("mode")) switch
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
            Modules = ReadModules(boot.GetProperty("modules"), bootAt),
            Source = bootAt,
        };
    }

    private static string? OptionalString(ScriptObject owner, string key, SourceLocation at) =>
        Optional(owner.GetProperty(key)) switch
        {
            null => null,
            string text => text,
            var other => throw new DefinitionException($"'{key}' must be a string, not {other}", at),
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
        if (value is Undefined) return modules;
        if (value is not ScriptObject list || !JsValues.IsArray(value))
            throw new DefinitionException("boot 'modules' must be an array of paths or { path, cmdline }", at);
        int count = (int)(JsValues.AsInteger(list.GetProperty("length")) ?? 0);
        for (int i = 0; i < count; i++)
        {
            var item = list.GetProperty(i);
            var (path, cmdline) = item switch
            {
                string p => (p, (string?)null),
                ScriptObject o when JsValues.IsPlainObject(item) => (OptionalString(o, "path", at), OptionalString(o, "cmdline", at)),
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

    private ulong? Address(ScriptObject boot, string key, SourceLocation bootAt)
    {
        var value = Optional(boot.GetProperty(key));
        if (value is null) return null;
        if (JsValues.AsInteger(value) is long n && n >= 0) return (ulong)n;
        throw new DefinitionException($"boot '{key}' must be an address (an integer of 0 or more), not {value}", PropertyAt(bootAt, key));
    }

    private HookFunctions? ReadHooks(object? value, SourceLocation at)
    {
        if (value is Undefined) return null;
        var hooksAt = PropertyAt(at, "hooks");
        if (value is not ScriptObject hooks || !JsValues.IsPlainObject(value))
            throw new DefinitionException($"'hooks' must be an object with any of {string.Join(", ", HookNames)}", hooksAt);
        var locations = new Dictionary<string, SourceLocation>();
        foreach (var key in hooks.PropertyNames)
        {
            if (!HookNames.Contains(key))
                throw new DefinitionException($"there is no hook '{key}' (hooks: {string.Join(", ", HookNames)})", PropertyAt(hooksAt, key));
            var fn = hooks.GetProperty(key);
            if (fn is Undefined) continue;
            if (!JsValues.IsFunction(fn)) throw new DefinitionException($"hook '{key}' must be a function", PropertyAt(hooksAt, key));
            locations[key] = sources.FindFunction(sourceOfFunction(fn)) ?? PropertyAt(hooksAt, key);
        }
        return locations.Count > 0 ? new HookFunctions(hooks, locations) : null;
    }

    private SourceLocation? LocationOf(object? source)
    {
        if (source is not ScriptObject s || s.GetProperty("file") is not string file) return null;
        int line = (int)(JsValues.AsInteger(s.GetProperty("line")) ?? 0);
        int column = (int)(JsValues.AsInteger(s.GetProperty("column")) ?? 0);
        return line > 0 ? new SourceLocation(sources.Known(file) ?? file, line, column) : null;
    }

    private SourceLocation PropertyAt(SourceLocation from, string key) => sources.FindProperty(from, key) ?? from;

    private static object? Optional(object? value) => value is Undefined ? null : value;
}
