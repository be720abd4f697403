using VirtShell.Devices.Hypercall;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>hypercalls({ port: 0x5650, blobs: { greeting: './hello.txt' } })</c>: the hypercall channel of
/// docs/hypercalls.md, with the named blobs a guest may read. Blobs are read when the machine starts.
/// </summary>
public sealed class HypercallsDeviceType : IDeviceType
{
    public const ushort DefaultPort = 0x5650;
    public const long MaxBlobBytes = 16 << 20;
    private const string BlobLimit = "the 16 MiB a blob may have";

    public string Name => "hypercalls";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, "port", "blobs");
        Port(spec);
        foreach (var (name, path) in Blobs(spec))
        {
            if (GuestFiles.Problem(path, MaxBlobBytes, BlobLimit) is { } problem) throw DeviceSettings.Error(spec, $"blob '{name}': {path} {problem}");
        }
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [(Port(spec), HypercallChannel.PortCount)];

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (name, path) in Blobs(spec))
        {
            try
            {
                blobs[name] = GuestFiles.Read(path, MaxBlobBytes, BlobLimit);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw DeviceSettings.Error(spec, $"blob '{name}': cannot read {path}: {e.Message}");
            }
        }
        var channel = new HypercallChannel(spec.Type, context.Memory, blobs, context.Services.Log, context.Services.PowerOff);
        context.Ports.Register(Port(spec), HypercallChannel.PortCount, channel, spec.Describe());
        return null;
    }

    private static ushort Port(DeviceSpec spec) => DeviceSettings.Port(spec, "port", DefaultPort, HypercallChannel.PortCount);

    private static List<(string Name, string Path)> Blobs(DeviceSpec spec) =>
        ParavirtualSettings.StringMap(spec, "blobs").Select(e =>
        {
            if (e.Key.Length is 0 or > HypercallChannel.MaxBlobNameBytes || !e.Key.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
                throw DeviceSettings.Error(spec, $"blob name '{e.Key}' must be 1..{HypercallChannel.MaxBlobNameBytes} characters of letters, digits, '.', '_' and '-'");
            if (string.IsNullOrWhiteSpace(e.Value)) throw DeviceSettings.Error(spec, $"blob '{e.Key}' needs a file path");
            return (e.Key, ParavirtualSettings.FilePath(spec, e.Value));
        }).ToList();
}
