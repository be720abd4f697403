using VirtShell.Containers.Definition;
using VirtShell.Containers.Network;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Models.Container;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

/// <summary>network: { type: 'veth', ... } read from a definition; every error names its field. No root needed.</summary>
public sealed class ContainerNetworkDefinitionTests
{
    private static MachineSpec Spec(object? network) => new()
    {
        Name = "n1", Model = "container", MemoryBytes = 64UL << 20, DefinitionPath = "/defs/n1.js",
        Source = new SourceLocation("/defs/n1.js", 3),
        Sections = new Dictionary<string, object?>
        {
            ["container"] = new Dictionary<string, object?>
            {
                ["rootfs"] = new Dictionary<string, object?> { ["busybox"] = true },
                ["network"] = network,
            },
        },
    };

    private static Dictionary<string, object?> Veth(params (string Key, object? Value)[] settings)
    {
        var network = new Dictionary<string, object?> { ["type"] = "veth", ["bridge"] = "vsbr0", ["address"] = "10.77.0.2/24" };
        foreach (var (key, value) in settings) network[key] = value;
        return network;
    }

    private static string Error(object? network) =>
        Assert.Throws<DefinitionException>(() => new ContainerModel().Validate(Spec(network))).Message;

    [Fact]
    public void A_veth_network_reads_with_the_bridge_at_the_subnets_first_address_and_no_gateway()
    {
        var veth = Assert.IsType<NetworkSettings.Veth>(ContainerSettingsReader.Read(Spec(Veth())).Network);
        Assert.Equal("vsbr0", veth.Bridge);
        Assert.Equal("10.77.0.2/24", veth.Address.ToString());
        Assert.Equal("10.77.0.1/24", veth.BridgeAddress.ToString());
        Assert.Null(veth.Gateway);

        var routed = Assert.IsType<NetworkSettings.Veth>(ContainerSettingsReader.Read(
            Spec(Veth(("address", "10.77.0.1/24"), ("gateway", "10.77.0.254"), ("bridgeAddress", "10.77.0.254/24")))).Network);
        Assert.Equal("10.77.0.254", routed.Gateway!.ToString());
        Assert.Equal("10.77.0.254/24", routed.BridgeAddress.ToString());
    }

    [Theory]
    [InlineData("10.77.0.300/24", "is not an IPv4 address")]
    [InlineData("10.77.0.2", "is not an IPv4 address with a prefix length")]
    [InlineData("10.1/8", "is not an IPv4 address")]
    [InlineData("fd00::2/64", "is not an IPv4 address")]
    [InlineData("10.77.0.2/33", "prefix length must be 1 to 30")]
    [InlineData("10.77.0.2/31", "prefix length must be 1 to 30")]
    [InlineData("10.77.0.0/24", "is the network address")]
    [InlineData("10.77.0.255/24", "is the broadcast address")]
    [InlineData("10.77.0.1/24", "is the bridge's default host address")]
    public void A_bad_address_is_refused_naming_the_field(string address, string expected)
    {
        string message = Error(Veth(("address", address)));
        Assert.Contains("container.network.address", message);
        Assert.Contains(expected, message);
    }

    [Theory]
    [InlineData("averyveryverylongbridge", "at most 15 (IFNAMSIZ)")]
    [InlineData("br 0", "is not an interface name")]
    [InlineData("br/0", "is not an interface name")]
    [InlineData("..", "is not an interface name")]
    public void A_bad_bridge_name_is_refused_naming_the_field(string bridge, string expected)
    {
        string message = Error(Veth(("bridge", bridge)));
        Assert.Contains("container.network.bridge", message);
        Assert.Contains(expected, message);
    }

    [Fact]
    public void Other_veth_mistakes_name_their_field()
    {
        Assert.Contains("container.network.gateway: 10.78.0.1 must be another address in the machine's subnet 10.77.0.0/24", Error(Veth(("gateway", "10.78.0.1"))));
        Assert.Contains("container.network.gateway", Error(Veth(("gateway", "10.77.0.2"))));
        Assert.Contains("container.network.gateway: 'router' is not", Error(Veth(("gateway", "router"))));
        Assert.Contains("container.network.bridgeAddress: 10.78.0.1/24 is not in the machine's subnet", Error(Veth(("bridgeAddress", "10.78.0.1/24"))));
        Assert.Contains("container.network.bridgeAddress: 10.77.0.2 is the machine's own address", Error(Veth(("bridgeAddress", "10.77.0.2/24"))));
        Assert.Contains("container.network.address: is required", Error(new Dictionary<string, object?> { ["type"] = "veth", ["bridge"] = "vsbr0" }));
        Assert.Contains("container.network.bridge: is required", Error(new Dictionary<string, object?> { ["type"] = "veth", ["address"] = "10.77.0.2/24" }));
        Assert.Contains("container.network.type: 'macvlan' is not a network type here", Error(Veth(("type", "macvlan"))));
        Assert.Contains("container.network.mtu: unknown setting", Error(Veth(("mtu", 1400L))));
        Assert.Contains("container.network: 'bridge' is not supported", Error("bridge"));
    }
}

/// <summary>Machines on a host bridge through veth pairs, with real containers (root). Each test has a bridge and subnet of its own.</summary>
public sealed class ContainerNetworkTests : IDisposable
{
    private readonly ContainerTestHost _host = new();
    private readonly string _bridge = "vst" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose()
    {
        _host.Dispose();
        Assert.False(VethNetwork.InterfaceExists(_bridge), $"bridge {_bridge} outlived its machines");
    }

    private Dictionary<string, object?> Veth(string address, string? gateway = null)
    {
        var network = new Dictionary<string, object?> { ["type"] = "veth", ["bridge"] = _bridge, ["address"] = address };
        if (gateway != null) network["gateway"] = gateway;
        return new() { ["network"] = network };
    }

    private static int HostPing(string address)
    {
        using var ping = System.Diagnostics.Process.Start("/bin/busybox", ["ping", "-c", "1", "-W", "3", address])!;
        ping.WaitForExit();
        return ping.ExitCode;
    }

    [ContainerFact]
    public void Two_machines_on_one_bridge_reach_each_other_and_the_host_reaches_both()
    {
        var a = _host.StartIdle("neta", Veth("10.77.11.2/24"));
        var b = _host.StartIdle("netb", Veth("10.77.11.3/24"));

        Assert.Equal(0, Exec(a, "ping", "-c", "1", "-W", "3", "10.77.11.3").Code);
        Assert.Equal(0, Exec(b, "ping", "-c", "1", "-W", "3", "10.77.11.2").Code);
        Assert.Equal(0, Exec(a, "ping", "-c", "1", "-W", "3", "10.77.11.1").Code); // the bridge: the host's address
        Assert.Equal(0, HostPing("10.77.11.2"));
        Assert.Equal(0, HostPing("10.77.11.3"));

        var (_, links, _) = Exec(a, "ls", "/sys/class/net");
        Assert.Equal(["eth0", "lo"], links.Split('\n').Order());
        Assert.True(VethNetwork.CreatedByUs(_bridge));
        Assert.Equal(2, VethNetwork.BridgePorts(_bridge).Count);
    }

    [ContainerFact]
    public void Without_a_gateway_there_is_no_default_route_and_with_one_there_is()
    {
        var local = _host.StartIdle("local", Veth("10.77.12.2/24"));
        Assert.DoesNotContain("default", Exec(local, "ip", "route").Out);
        Assert.NotEqual(0, Exec(local, "ping", "-c", "1", "-W", "1", "192.0.2.1").Code); // TEST-NET-1: nowhere to go

        var routed = _host.StartIdle("routed", Veth("10.77.12.3/24", gateway: "10.77.12.1"));
        Assert.Contains("default via 10.77.12.1 dev eth0", Exec(routed, "ip", "route").Out);
    }

    [ContainerFact]
    public void Remove_leaves_no_veth_no_namespace_no_claim_and_no_bridge_it_made()
    {
        var first = _host.StartIdle("gone1", Veth("10.77.13.2/24"));
        var second = _host.StartIdle("gone2", Veth("10.77.13.3/24"));
        var placement = _host.Containers.Place("gone1");
        Assert.True(File.Exists(placement.Network.NamespacePath));
        Assert.True(VethNetwork.InterfaceExists(placement.Network.HostInterface));
        Assert.Contains(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(placement.Network.NamespacePath));

        first.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        _host.Engine.Remove(first);
        Assert.Empty(_host.Containers.FindLeftovers("gone1"));
        Assert.False(File.Exists(placement.Network.NamespacePath));
        Assert.False(VethNetwork.InterfaceExists(placement.Network.HostInterface));
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(placement.Network.NamespacePath));
        Assert.True(VethNetwork.InterfaceExists(_bridge), "the bridge went while another machine still used it");
        Assert.Equal(0, Exec(second, "ping", "-c", "1", "-W", "3", "10.77.13.1").Code);

        second.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        _host.Engine.Remove(second);
        Assert.Empty(_host.Containers.FindLeftovers("gone2"));
        Assert.False(VethNetwork.InterfaceExists(_bridge), "the bridge the engine made outlived its last machine");
        Assert.False(Directory.Exists(Path.Combine(VethNetwork.StateDirectory, _bridge)));
    }

    [ContainerFact]
    public void A_bridge_the_engine_did_not_make_stays()
    {
        Ip($"link add name {_bridge} type bridge");
        try
        {
            var machine = _host.StartIdle("guest", Veth("10.77.14.2/24"));
            Assert.False(VethNetwork.CreatedByUs(_bridge));
            machine.Stop(turnOff: true, TimeSpan.FromSeconds(10));
            _host.Engine.Remove(machine);
            Assert.Empty(_host.Containers.FindLeftovers("guest"));
            Assert.True(VethNetwork.InterfaceExists(_bridge));
            Assert.Empty(VethNetwork.BridgePorts(_bridge));
        }
        finally
        {
            Ip($"link del {_bridge}");
        }
    }

    [ContainerFact]
    public void A_second_machine_with_the_same_address_fails_to_start_and_leaves_nothing()
    {
        _host.StartIdle("owner", Veth("10.77.15.2/24"));
        var twin = _host.Create(_host.Spec("twin", ["/bin/sh", "-c", "echo ready; sleep 60"], Veth("10.77.15.2/24")));
        var e = Assert.Throws<DefinitionException>(twin.Start);
        Assert.Equal("container.network.address: 10.77.15.2 is already used on bridge '" + _bridge + "' by machine 'owner'", e.Message);
        Assert.Equal(MachineState.Created, twin.State);
        Assert.Empty(_host.Containers.FindLeftovers("twin"));

        // The bridge's own address is taken too.
        var bridgeTwin = _host.Create(_host.Spec("brtwin", ["/bin/sh", "-c", "sleep 60"],
            new() { ["network"] = new Dictionary<string, object?> { ["type"] = "veth", ["bridge"] = _bridge, ["address"] = "10.77.15.1/24", ["bridgeAddress"] = "10.77.15.254/24" } }));
        Assert.Contains($"10.77.15.1 is already an address of the host's interface {_bridge}", Assert.Throws<DefinitionException>(bridgeTwin.Start).Message);
        Assert.Empty(_host.Containers.FindLeftovers("brtwin"));
    }

    [ContainerFact]
    public void A_claim_whose_namespace_is_gone_does_not_block_its_address()
    {
        // What a reboot leaves where /run is not a tmpfs: the claim and the namespace's file, but no namespace mounted.
        string ghost = Path.Combine(VethNetwork.NamespaceDirectory, $"virtshell-ghost-{_bridge}");
        string claim = Path.Combine(VethNetwork.StateDirectory, _bridge, "10.77.17.2");
        Directory.CreateDirectory(Path.GetDirectoryName(claim)!);
        Directory.CreateDirectory(VethNetwork.NamespaceDirectory);
        File.WriteAllText(ghost, "");
        File.WriteAllText(claim, $"{Path.GetFileName(ghost)}\nghost\n");
        try
        {
            var machine = _host.StartIdle("heir", Veth("10.77.17.2/24"));
            Assert.Equal(0, Exec(machine, "ping", "-c", "1", "-W", "3", "10.77.17.1").Code);
        }
        finally
        {
            File.Delete(ghost);
        }
    }

    [ContainerFact]
    public void A_bridge_name_taken_by_another_kind_of_interface_is_refused()
    {
        var machine = _host.Create(_host.Spec("onlo", ["/bin/sh", "-c", "sleep 60"],
            new() { ["network"] = new Dictionary<string, object?> { ["type"] = "veth", ["bridge"] = "lo", ["address"] = "10.77.16.2/24" } }));
        Assert.Equal("container.network.bridge: 'lo' exists on this host and is not a bridge", Assert.Throws<DefinitionException>(machine.Start).Message);
        Assert.Empty(_host.Containers.FindLeftovers("onlo"));
        Assert.True(VethNetwork.InterfaceExists("lo"));
    }

    private static void Ip(string command)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(VethNetwork.FindIp()!);
        foreach (var a in command.Split(' ')) psi.ArgumentList.Add(a);
        using var ip = System.Diagnostics.Process.Start(psi)!;
        ip.WaitForExit();
        Assert.Equal(0, ip.ExitCode);
    }
}
