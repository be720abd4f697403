using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using VirtShell.Containers.Definition;
using VirtShell.Containers.Native;
using VirtShell.Engine.Definitions;

namespace VirtShell.Containers.Network;

/// <summary>The host-side names of one machine's veth network: its named network namespace and its veth's host end.</summary>
public sealed record VethNames(string Namespace, string HostInterface)
{
    /// <summary>The container's end of the pair, inside its namespace.</summary>
    public const string ContainerInterface = "eth0";

    /// <summary>Where <c>ip netns add</c> pins the namespace; config.json points runc at it.</summary>
    public string NamespacePath => Path.Combine(VethNetwork.NamespaceDirectory, Namespace);
}

/// <summary>
/// Wires machines to host bridges with iproute2's <c>ip</c>: a named network namespace per machine (made before runc
/// runs, so the container's program finds eth0 configured at its first instruction), a veth pair from the bridge into
/// it, the machine's address and, only if asked, a default route. No NAT and no forwarding rules: traffic stays
/// between the host and the machines on the bridge.
/// <para>
/// Bridges are host-wide, so their bookkeeping is too: under <c>/run/virtshell/bridges/&lt;bridge&gt;/</c> (gone at
/// reboot, like the bridges) one file per claimed address names the namespace holding it, and <c>created</c> marks a
/// bridge this engine made. Such a bridge is deleted with the last claim on it, if nothing else was attached to it
/// meanwhile. One lock file serialises every change, across engine processes and machine homes.
/// </para>
/// </summary>
public static class VethNetwork
{
    public const string NamespaceDirectory = "/run/netns";
    public const string StateDirectory = "/run/virtshell/bridges";
    private const string CreatedMarker = "created";
    private static readonly string LockFile = Path.Combine(Path.GetDirectoryName(StateDirectory)!, "network.lock");

    /// <summary>iproute2's ip, or null: on PATH, or in Debian's /usr/sbin or /sbin (often not on a user's PATH).</summary>
    public static string? FindIp() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Concat(["/usr/sbin", "/sbin"]).Select(d => Path.Combine(d, "ip")).FirstOrDefault(File.Exists);

    /// <summary>
    /// Makes the namespace, the veth pair and the bridge (if absent), and configures the container's end. Throws
    /// <see cref="DefinitionException"/> naming the field when the host refuses what the definition asks (an address
    /// another machine holds, a bridge name taken by another kind of interface). On failure the caller releases.
    /// </summary>
    public static void Attach(NetworkSettings.Veth veth, VethNames names, string machineName)
    {
        string ip = FindIp() ?? throw new DefinitionException(
            "container.network: type 'veth' needs iproute2's ip, which is not installed (Debian package iproute2)");
        using (HostLock())
        {
            // The claim first: should making the bridge fail half-way, releasing the claim takes the bridge along.
            Claim(veth, names, machineName);
            EnsureBridge(ip, veth);
            Ip(ip, null,
            [
                $"netns add {names.Namespace}",
                $"link add {names.HostInterface} type veth peer name {VethNames.ContainerInterface} netns {names.Namespace}",
                $"link set {names.HostInterface} master {veth.Bridge} up",
            ]);
        }
        var inside = new List<string>
        {
            "link set lo up",
            $"addr add {veth.Address} dev {VethNames.ContainerInterface}",
            $"link set {VethNames.ContainerInterface} up",
        };
        if (veth.Gateway is { } gateway) inside.Add($"route add default via {gateway} dev {VethNames.ContainerInterface}");
        Ip(ip, names.Namespace, inside);
    }

    /// <summary>
    /// Removes what <see cref="Attach"/> made for <paramref name="names"/>: the veth pair, the namespace, the address
    /// claim, and a bridge this engine created that nothing uses any more. Safe when nothing is left.
    /// </summary>
    public static void Release(VethNames names)
    {
        bool anything = InterfaceExists(names.HostInterface) || File.Exists(names.NamespacePath) || ClaimsOf(names.Namespace).Any();
        if (!anything) return;
        string ip = FindIp() ?? throw new IOException($"cannot remove network namespace {names.Namespace}: iproute2's ip is not installed");
        using (HostLock())
        {
            // Deleting one end deletes both; done before the namespace goes, because a namespace dies (and takes its
            // interfaces along) asynchronously in the kernel, so the host end could outlive this call.
            if (InterfaceExists(names.HostInterface)) Ip(ip, null, [$"link del {names.HostInterface}"]);
            if (File.Exists(names.NamespacePath)) Ip(ip, null, [$"netns del {names.Namespace}"]);
            foreach (var claim in ClaimsOf(names.Namespace).ToList())
            {
                File.Delete(claim);
                RemoveBridgeIfUnused(ip, Path.GetDirectoryName(claim)!);
            }
        }
    }

    /// <summary>What of <paramref name="names"/> still exists on the host (for Remove's checks and tests).</summary>
    public static IEnumerable<string> FindLeftovers(VethNames names)
    {
        if (File.Exists(names.NamespacePath)) yield return $"network namespace {names.NamespacePath}";
        if (InterfaceExists(names.HostInterface)) yield return $"network interface {names.HostInterface}";
        foreach (var claim in ClaimsOf(names.Namespace)) yield return $"address claim {claim}";
    }

    public static bool InterfaceExists(string name) => Directory.Exists(Path.Combine("/sys/class/net", name));

    /// <summary>Interfaces attached to <paramref name="bridge"/> (empty when it does not exist).</summary>
    public static IReadOnlyList<string> BridgePorts(string bridge)
    {
        string ports = Path.Combine("/sys/class/net", bridge, "brif");
        return Directory.Exists(ports) ? Directory.GetFileSystemEntries(ports).Select(p => Path.GetFileName(p)!).ToList() : [];
    }

    /// <summary>Whether this engine created <paramref name="bridge"/> (and so will delete it when unused).</summary>
    public static bool CreatedByUs(string bridge) => File.Exists(Path.Combine(StateDirectory, bridge, CreatedMarker));

    private static void EnsureBridge(string ip, NetworkSettings.Veth veth)
    {
        if (InterfaceExists(veth.Bridge))
        {
            if (!Directory.Exists(Path.Combine("/sys/class/net", veth.Bridge, "bridge")))
                throw new DefinitionException($"container.network.bridge: '{veth.Bridge}' exists on this host and is not a bridge");
            return;
        }
        File.WriteAllText(Path.Combine(StateDirectory, veth.Bridge, CreatedMarker), $"{veth.BridgeAddress}\n");
        Ip(ip, null,
        [
            $"link add name {veth.Bridge} type bridge",
            $"addr add {veth.BridgeAddress} dev {veth.Bridge}",
            $"link set {veth.Bridge} up",
        ]);
    }

    private static void Claim(NetworkSettings.Veth veth, VethNames names, string machineName)
    {
        string dir = Path.Combine(StateDirectory, veth.Bridge);
        Directory.CreateDirectory(dir);
        string claim = Path.Combine(dir, veth.Address.Address.ToString());
        if (File.Exists(claim))
        {
            var owner = File.ReadAllText(claim).Split('\n');
            // A claim whose namespace is gone is stale (its holder was cleaned up by hand, or the host rebooted with
            // a /run that is not a tmpfs: the namespace's file may outlive it, but not its mount); anything else is taken.
            if (owner[0] != names.Namespace && MountTable.IsMounted(Path.Combine(NamespaceDirectory, owner[0])))
                throw new DefinitionException(
                    $"container.network.address: {veth.Address.Address} is already used on bridge '{veth.Bridge}' by machine '{(owner.Length > 1 ? owner[1] : owner[0])}'");
        }
        if (HostHolds(veth.Address.Address) is { } holder)
            throw new DefinitionException($"container.network.address: {veth.Address.Address} is already an address of the host's interface {holder}");
        File.WriteAllText(claim, $"{names.Namespace}\n{machineName}\n");
    }

    /// <summary>The host interface that has <paramref name="address"/>, if any (the bridge's own address, most likely).</summary>
    private static string? HostHolds(IPAddress address) =>
        NetworkInterface.GetAllNetworkInterfaces()
            .FirstOrDefault(i => i.GetIPProperties().UnicastAddresses.Any(u => u.Address.AddressFamily == AddressFamily.InterNetwork && u.Address.Equals(address)))
            ?.Name;

    private static IEnumerable<string> ClaimsOf(string ns)
    {
        if (!Directory.Exists(StateDirectory)) yield break;
        foreach (var bridge in Directory.EnumerateDirectories(StateDirectory))
            foreach (var file in Directory.EnumerateFiles(bridge))
                if (Path.GetFileName(file) != CreatedMarker && File.ReadAllText(file).Split('\n')[0] == ns)
                    yield return file;
    }

    private static void RemoveBridgeIfUnused(string ip, string dir)
    {
        string bridge = Path.GetFileName(dir);
        bool claimed = Directory.EnumerateFiles(dir).Any(f => Path.GetFileName(f) != CreatedMarker);
        if (claimed) return;
        if (!CreatedByUs(bridge)) { Directory.Delete(dir, recursive: true); return; }
        if (BridgePorts(bridge).Count > 0) return; // someone attached their own interface: not ours to break
        if (InterfaceExists(bridge)) Ip(ip, null, [$"link del {bridge}"]);
        Directory.Delete(dir, recursive: true);
    }

    private static IDisposable HostLock()
    {
        Directory.CreateDirectory(StateDirectory);
        return LinuxCalls.LockFile(LockFile);
    }

    /// <summary>Runs <paramref name="commands"/> through one <c>ip -batch</c> (in namespace <paramref name="ns"/> if given).</summary>
    private static void Ip(string ip, string? ns, IReadOnlyList<string> commands)
    {
        var psi = new ProcessStartInfo(ip) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        if (ns != null) { psi.ArgumentList.Add("-n"); psi.ArgumentList.Add(ns); }
        psi.ArgumentList.Add("-batch");
        psi.ArgumentList.Add("-");
        using var process = Process.Start(psi) ?? throw new IOException($"could not start {ip}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        process.StandardInput.Write(string.Join('\n', commands) + "\n");
        process.StandardInput.Close();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new IOException($"ip{(ns != null ? $" -n {ns}" : "")} failed: {stderr.Result.Trim()} (commands: {string.Join("; ", commands)})");
        _ = stdout.Result;
    }
}
