using System.Text.Json;
using VirtShell.Engine.Definitions;

namespace VirtShell.Devices;

/// <summary>
/// Reads the string and map settings paravirtual devices have. A setting arrives as a plain value from a definition
/// or as a <see cref="JsonElement"/> from a machine's stored spec; both read the same.
/// </summary>
internal static class ParavirtualSettings
{
    public static string? String(DeviceSpec spec, string key)
    {
        if (!spec.Settings.TryGetValue(key, out var value) || value is null) return null;
        return value switch
        {
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } j => j.GetString(),
            JsonElement { ValueKind: JsonValueKind.Null } => null,
            _ => throw DeviceSettings.Error(spec, $"'{key}' must be a string, not {value}"),
        };
    }

    /// <summary>An object whose values are strings, e.g. <c>blobs: { greeting: './hello.txt' }</c>.</summary>
    public static IReadOnlyList<(string Key, string Value)> StringMap(DeviceSpec spec, string key)
    {
        if (!spec.Settings.TryGetValue(key, out var value) || value is null) return [];
        IEnumerable<(string, object?)> entries = value switch
        {
            IReadOnlyDictionary<string, object?> d => d.Select(e => (e.Key, e.Value)),
            IDictionary<string, object?> d => d.Select(e => (e.Key, e.Value)),
            JsonElement { ValueKind: JsonValueKind.Object } j => j.EnumerateObject().Select(p => (p.Name, (object?)p.Value)),
            _ => throw DeviceSettings.Error(spec, $"'{key}' must be an object of names to strings, not {value}"),
        };
        return entries.Select(e => (e.Item1, e.Item2 switch
        {
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } j => j.GetString()!,
            var other => throw DeviceSettings.Error(spec, $"'{key}.{e.Item1}' must be a string, not {other ?? "null"}"),
        })).ToList();
    }

    /// <summary>A file path setting: relative paths are taken from the definition's folder, as the loader does for 'image'.</summary>
    public static string FilePath(DeviceSpec spec, string path)
    {
        if (Path.IsPathRooted(path)) return path;
        var folder = spec.Source is { File: var file } && Path.IsPathRooted(file) ? Path.GetDirectoryName(file) : null;
        return Path.GetFullPath(path, folder ?? Directory.GetCurrentDirectory());
    }
}
