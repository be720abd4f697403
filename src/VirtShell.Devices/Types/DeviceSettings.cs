using VirtShell.Engine.Definitions;

namespace VirtShell.Devices;

/// <summary>
/// Reads and checks a device's settings; every error names the device (file and line) and the setting. Public, so a
/// device type registered from another assembly validates the way the built-in ones do.
/// </summary>
public static class DeviceSettings
{
    public static DefinitionException Error(DeviceSpec spec, string message) => new($"{spec.Describe()}: {message}", spec.Source);

    /// <summary>A misspelt setting would otherwise be ignored silently and its default used.</summary>
    public static void RejectUnknown(DeviceSpec spec, params string[] known)
    {
        foreach (var key in spec.Settings.Keys)
            if (!known.Contains(key, StringComparer.Ordinal))
                throw Error(spec, $"unknown setting '{key}' (a {spec.Type} has: {string.Join(", ", known)})");
    }

    /// <summary>The first of <paramref name="count"/> consecutive ports, all of which must lie in the 16-bit port space.</summary>
    public static ushort Port(DeviceSpec spec, string key, ushort fallback, int count)
    {
        long port = spec.GetInteger(key, fallback);
        long last = 0x10000 - count;
        if (port < 0 || port > last)
            throw Error(spec, count == 1
                ? $"'{key}' must be a port number 0x0..0x{last:x}, not {Show(port)}"
                : $"'{key}' must be 0x0..0x{last:x} so that its {count} ports fit below 0x10000, not {Show(port)}");
        return (ushort)port;
    }

    public static int Integer(DeviceSpec spec, string key, int fallback, int min, int max)
    {
        long value = spec.GetInteger(key, fallback);
        if (value < min || value > max) throw Error(spec, $"'{key}' must be {min}..{max}, not {value}");
        return (int)value;
    }

    /// <summary>A register window's physical address: required, below 2^48, aligned to the window's size.</summary>
    public static ulong MmioAddress(DeviceSpec spec, string key, ulong window)
    {
        long address = spec.GetInteger(key);
        if (address <= 0 || address % (long)window != 0 || address >= 1L << 48)
            throw Error(spec, $"'{key}' must be a physical address below 2^48 aligned to 0x{window:x} (its register window), not {Show(address)}");
        return (ulong)address;
    }

    public static string Show(long port) => port < 0 ? port.ToString() : $"0x{port:x}";
}
