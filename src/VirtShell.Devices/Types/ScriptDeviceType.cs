using System.Globalization;
using System.Text.Json;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>scriptDevice({ ports: [...], mmio: [{ start, length }], read(at, size), write(at, size, value) })</c>: a device
/// written in the definition's JavaScript, answering I/O ports, physical address ranges, or both. The scripting layer
/// supplies it as <see cref="DeviceSpec.Implementation"/> and owns its lifetime (it lives in the definition's script
/// engine), so nothing is returned for the machine to dispose.
/// </summary>
public sealed class ScriptDeviceType : IDeviceType, IMmioDeviceType
{
    public string Name => "scriptDevice";

    /// <summary>The largest MMIO range one entry may claim: a device's registers or a small window, not a second RAM.</summary>
    public const ulong MaxMmioLength = 16 << 20;

    public void Validate(DeviceSpec spec)
    {
        // read and write are functions: the scripting layer turns them into the Implementation, not settings.
        DeviceSettings.RejectUnknown(spec, "ports", "mmio");
        if (spec.Implementation is null)
            throw DeviceSettings.Error(spec, "has no implementation: a scriptDevice is made by a definition's script, with read and write functions");
        if (PortList(spec).Count + MmioList(spec).Count == 0)
            throw DeviceSettings.Error(spec, "answers nothing: give 'ports' (a list of port numbers), 'mmio' (a list of { start, length }), or both");
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => PortList(spec).Select(p => (p, 1));

    public IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec) => MmioList(spec);

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var device = spec.Implementation ?? throw DeviceSettings.Error(spec, "has no implementation");
        foreach (var port in PortList(spec)) context.Ports.Register(port, 1, device, spec.Describe());
        var ranges = MmioList(spec);
        if (ranges.Count == 0) return null;
        if (device is not IMmioDevice mmio) throw DeviceSettings.Error(spec, "'mmio' needs an implementation that answers memory accesses");
        foreach (var (start, length) in ranges)
        {
            if (context.Memory.Blocks.Any(b => start < b.GuestEnd && b.GuestAddress < start + length))
                throw DeviceSettings.Error(spec, $"'mmio' range 0x{start:x}+0x{length:x} overlaps the machine's RAM");
            try { context.Mmio.Register(start, length, mmio, spec.Describe()); }
            catch (BusConflictException e) { throw DeviceSettings.Error(spec, e.Message); }
        }
        return null;
    }

    private static List<ushort> PortList(DeviceSpec spec)
    {
        var ports = new List<ushort>();
        if (!spec.Settings.TryGetValue("ports", out var value) || value is null) return ports;
        int index = 0;
        foreach (var item in Items(spec, "ports", value, "a list of port numbers"))
        {
            double number = Number(item);
            if (!(number >= 0 && number <= 0xFFFF && number == Math.Floor(number)))
                throw DeviceSettings.Error(spec, $"'ports'[{index}] must be a port number 0x0..0xffff, not {item ?? "null"}");
            var port = (ushort)number;
            if (ports.Contains(port)) throw DeviceSettings.Error(spec, $"'ports' lists port 0x{port:x} twice");
            ports.Add(port);
            index++;
        }
        return ports;
    }

    private static List<(ulong Start, ulong Length)> MmioList(DeviceSpec spec)
    {
        var ranges = new List<(ulong Start, ulong Length)>();
        if (!spec.Settings.TryGetValue("mmio", out var value) || value is null) return ranges;
        int index = 0;
        foreach (var item in Items(spec, "mmio", value, "a list of { start, length }"))
        {
            string at = $"'mmio'[{index}]";
            var (start, length) = (Field(spec, at, item, "start"), Field(spec, at, item, "length"));
            if (start % 4096 != 0 || length % 4096 != 0 || length == 0 || length > MaxMmioLength)
                throw DeviceSettings.Error(spec, $"{at} must be whole 4 KiB pages, 4 KiB to {MaxMmioLength >> 20} MiB long, not start 0x{start:x} length 0x{length:x}");
            if (start + length > 1UL << 52) throw DeviceSettings.Error(spec, $"{at} ends past the 52-bit physical address space");
            if (ranges.Any(r => start < r.Start + r.Length && r.Start < start + length))
                throw DeviceSettings.Error(spec, $"{at} overlaps another of its ranges");
            ranges.Add((start, length));
            index++;
        }
        return ranges;
    }

    private static ulong Field(DeviceSpec spec, string at, object? item, string key)
    {
        object? value = item switch
        {
            JsonElement { ValueKind: JsonValueKind.Object } json => json.TryGetProperty(key, out var p) ? p : null,
            IDictionary<string, object?> dict => dict.TryGetValue(key, out var v) ? v : null,
            _ => throw DeviceSettings.Error(spec, $"{at} must be an object {{ start, length }}, not {item ?? "null"}"),
        };
        double number = Number(value);
        if (!(number >= 0 && number < 1UL << 52 && number == Math.Floor(number)))
            throw DeviceSettings.Error(spec, $"{at}.{key} must be a whole number of bytes, not {value ?? "missing"}");
        return (ulong)number;
    }

    private static IEnumerable<object?> Items(DeviceSpec spec, string key, object value, string shape) => value switch
    {
        JsonElement { ValueKind: JsonValueKind.Array } json => json.EnumerateArray().Select(e => (object?)e),
        string or JsonElement or IDictionary<string, object?> => throw DeviceSettings.Error(spec, $"'{key}' must be {shape}, not {value}"),
        System.Collections.IEnumerable list => list.Cast<object?>(),
        _ => throw DeviceSettings.Error(spec, $"'{key}' must be {shape}, not {value}"),
    };

    private static double Number(object? item) => item switch
    {
        JsonElement { ValueKind: JsonValueKind.Number } json => json.GetDouble(),
        int or long or double or float or short or ushort or byte or sbyte or uint or ulong or decimal =>
            Convert.ToDouble(item, CultureInfo.InvariantCulture),
        _ => double.NaN,
    };
}
