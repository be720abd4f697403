using VirtShell.Devices;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Models.Emulated;
using VirtShell.Models;
using VirtShell.Models.RiscV;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.RiscV;

/// <summary>What a definition may say about the guest's architecture, and the device tree made from it.</summary>
public sealed class RiscvDefinitionTests
{
    private static readonly string Firmware = Path.GetTempFileName();

    private static MachineSpec Spec(string model, string arch) => new()
    {
        Name = "rv",
        Model = model,
        Arch = arch,
        MemoryBytes = 64 << 20,
        Boot = new BootSpec { Kind = BootKind.Firmware, Image = Firmware },
        Sections = model == "container" ? new Dictionary<string, object?> { ["container"] = new Dictionary<string, object?>() } : new Dictionary<string, object?>(),
    };

    [Theory]
    [InlineData("hardware")]
    [InlineData("paravirtual")]
    [InlineData("container")]
    public void A_foreign_arch_on_a_model_that_runs_the_host_CPU_is_a_definition_error(string model)
    {
        var registry = ModelCatalog.CreateRegistry(Path.GetTempPath());
        var e = Assert.Throws<DefinitionException>(() => registry.Find(model)!.Validate(Spec(model, "riscv64")));
        Assert.Contains("arch 'riscv64' needs model 'emulated'", e.Message);
    }

    [Fact]
    public void An_unknown_arch_on_the_emulated_model_names_the_ones_it_has()
    {
        var registry = ModelCatalog.CreateRegistry(Path.GetTempPath());
        var e = Assert.Throws<DefinitionException>(() => registry.Find("emulated")!.Validate(Spec("emulated", "mips")));
        Assert.Contains("x86_64 and riscv64", e.Message);
    }

    [Fact]
    public void A_port_device_on_the_riscv64_board_is_refused()
    {
        var spec = Spec("emulated", "riscv64") with
        {
            Devices = [new DeviceSpec { Type = "uart16550", Settings = new Dictionary<string, object?> { ["port"] = 0x3f8L } }],
        };
        var e = Assert.Throws<DefinitionException>(() => ModelCatalog.CreateRegistry(Path.GetTempPath()).Find("emulated")!.Validate(spec));
        Assert.Contains("no I/O ports", e.Message);
    }

    /// <summary>A memory-mapped device type from outside the built-in table, without the device-tree hook.</summary>
    private sealed class UndescribedDeviceType : IDeviceType, IMmioDeviceType
    {
        public string Name => "undescribed";
        public void Validate(DeviceSpec spec) { }
        public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [];
        public IEnumerable<(ulong Start, ulong Length)> MmioRanges(DeviceSpec spec) => [(0x10002000, 0x1000)];
        public IDisposable? Attach(DeviceSpec spec, DeviceContext context) => null;
    }

    [Fact]
    public void A_device_type_that_cannot_describe_itself_in_the_device_tree_is_refused_naming_it()
    {
        var catalog = BuiltInDevices.Catalog.With(new UndescribedDeviceType(), BuiltInDevices.EmulatedRiscV);
        var spec = Spec("emulated", "riscv64") with { Devices = [new DeviceSpec { Type = "undescribed" }] };
        var e = Assert.Throws<DefinitionException>(() => new EmulatedModel(catalog).Validate(spec));
        Assert.Contains("device type 'undescribed' cannot describe itself in a device tree", e.Message);
    }

    [Fact]
    public void The_device_tree_is_a_valid_blob_with_a_node_per_device()
    {
        var spec = Spec("emulated", "riscv64") with
        {
            Devices =
            [
                new DeviceSpec { Type = "uart16550", Settings = new Dictionary<string, object?> { ["address"] = 0x10000000L, ["irq"] = 10L } },
                new DeviceSpec { Type = "virtioRng", Settings = new Dictionary<string, object?> { ["address"] = 0x10001000L, ["irq"] = 1L } },
            ],
            Boot = new BootSpec { Kind = BootKind.Firmware, Image = Firmware, CommandLine = "console=ttyS0" },
        };
        var blob = DeviceTree.Flatten(RiscvVirtPlatform.Describe(spec, BuiltInDevices.Catalog.For(BuiltInDevices.EmulatedRiscV), (0x88000000, 0x88100000)));
        Assert.Equal(0xD00DFEEDu, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(blob));
        Assert.Equal((uint)blob.Length, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(4)));
        string text = System.Text.Encoding.ASCII.GetString(blob);
        foreach (var expected in new[] { "serial@10000000", "virtio_mmio@10001000", "ns16550a", "virtio,mmio", "console=ttyS0",
                     "/soc/serial@10000000", "linux,initrd-start", "riscv,plic0", "riscv,clint0", "rv64imafdc" })
            Assert.Contains(expected, text);
    }
}
