using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace VirtShell.Containers.Definition;

/// <summary>An IPv4 interface address with its prefix length, as <c>ip addr</c> takes it: <c>10.77.0.2/24</c>.</summary>
public sealed record Ipv4Cidr(IPAddress Address, int PrefixLength)
{
    /// <summary>Parses <paramref name="text"/>; null with the reason in <paramref name="error"/> when it is not a usable host address.</summary>
    public static Ipv4Cidr? TryParse(string text, out string error)
    {
        error = "";
        var parts = text.Split('/');
        if (parts.Length != 2 || !IsDottedQuad(parts[0]) || !IPAddress.TryParse(parts[0], out var address)
            || address.AddressFamily != AddressFamily.InterNetwork)
        {
            error = $"'{text}' is not an IPv4 address with a prefix length (like 10.77.0.2/24)";
            return null;
        }
        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int prefix) || prefix is < 1 or > 30)
        {
            error = $"'{text}': the prefix length must be 1 to 30 (a subnet with room for the host and a machine)";
            return null;
        }
        var cidr = new Ipv4Cidr(address, prefix);
        if (cidr.Value == cidr.NetworkValue || cidr.Value == cidr.BroadcastValue)
        {
            error = $"'{text}' is the {(cidr.Value == cidr.NetworkValue ? "network" : "broadcast")} address of its subnet, not a host address";
            return null;
        }
        return cidr;
    }

    private uint Mask => PrefixLength == 0 ? 0 : uint.MaxValue << (32 - PrefixLength);
    private uint Value => BinaryPrimitives.ReadUInt32BigEndian(Address.GetAddressBytes());
    private uint NetworkValue => Value & Mask;
    private uint BroadcastValue => NetworkValue | ~Mask;

    /// <summary>The subnet, as <c>10.77.0.0/24</c>.</summary>
    public string Network => $"{FromValue(NetworkValue)}/{PrefixLength}";

    public bool Contains(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork
        && (BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes()) & Mask) == NetworkValue;

    /// <summary>The subnet's first host address with this prefix (the documented default for a bridge the engine creates).</summary>
    public Ipv4Cidr FirstHost => new(FromValue(NetworkValue + 1), PrefixLength);

    public override string ToString() => $"{Address}/{PrefixLength}";

    /// <summary>IPAddress.TryParse also takes "10.1" or "0x0a.0.0.1"; a definition must spell all four decimal parts.</summary>
    public static bool IsDottedQuad(string text)
    {
        var parts = text.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, CultureInfo.InvariantCulture) <= 255);
    }

    private static IPAddress FromValue(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }
}
