using System.Globalization;
using System.Text.Json;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>scriptDevice({ ports: [...], read(port, size), write(port, size, value) })</c>: a device written in the
/// definition's JavaScript. The scripting layer supplies it as <see cref="DeviceSpec.Implementation"/> and owns its
/// lifetime (it lives in the definition's script engine), so nothing is returned for the machine to dispose.
/// </summary>
public sealed class ScriptDeviceType : IDeviceType
{
    public string Name => "scriptDevice";

    public void Validate(DeviceSpec spec)
    {
        // read and write are functions: the scripting layer turns them into the Implementation, not settings.
        DeviceSettings.RejectUnknown(spec, "ports");
        if (spec.Implementation is null)
            throw DeviceSettings.Error(spec, "has no implementation: a scriptDevice is made by a definition's script, with read and write functions");
        PortList(spec);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => PortList(spec).Select(p => (p, 1));

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var device = spec.Implementation ?? throw DeviceSettings.Error(spec, "has no implementation");
        foreach (var port in PortList(spec)) context.Ports.Register(port, 1, device, spec.Describe());
        return null;
    }

    private static List<ushort> PortList(DeviceSpec spec)
    {
        spec.Settings.TryGetValue("ports", out var value);
        IEnumerable<object?> items = value switch
        {
            null => throw DeviceSettings.Error(spec, "'ports' is required: a list of the port numbers it answers"),
            JsonElement { ValueKind: JsonValueKind.Array } json => json.EnumerateArray().Select(e => (object?)e),
            string or JsonElement => throw DeviceSettings.Error(spec, $"'ports' must be a list of port numbers, not {value}"),
            System.Collections.IEnumerable list => list.Cast<object?>(),
            _ => throw DeviceSettings.Error(spec, $"'ports' must be a list of port numbers, not {value}"),
        };
        var ports = new List<ushort>();
        int index = 0;
        foreach (var item in items)
        {
            double number = item switch
            {
                JsonElement { ValueKind: JsonValueKind.Number } json => json.GetDouble(),
                int or long or double or float or short or ushort or byte or sbyte or uint or ulong or decimal =>
                    Convert.ToDouble(item, CultureInfo.InvariantCulture),
                _ => double.NaN,
            };
            if (!(number >= 0 && number <= 0xFFFF && number == Math.Floor(number)))
                throw DeviceSettings.Error(spec, $"'ports'[{index}] must be a port number 0x0..0xffff, not {item ?? "null"}");
            var port = (ushort)number;
            if (ports.Contains(port)) throw DeviceSettings.Error(spec, $"'ports' lists port 0x{port:x} twice");
            ports.Add(port);
            index++;
        }
        if (ports.Count == 0) throw DeviceSettings.Error(spec, "'ports' is empty: a scriptDevice must answer at least one port");
        return ports;
    }
}
