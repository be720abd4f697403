using VirtShell.Devices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Kvm;
using VirtShell.Tests.Models;
using Xunit;

namespace VirtShell.Tests.Devices;

/// <summary>
/// The device catalog is the one list of device types: a new type registered there alone is usable from a definition,
/// and the definition module and the docs follow the catalog.
/// </summary>
public sealed class DeviceCatalogTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-catalog-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A device written for this test only: port 0x600 reads as the value its definition gives.</summary>
    private sealed class AnswerPortType : IDeviceType
    {
        public string Name => "answerPort";

        public void Validate(DeviceSpec spec)
        {
            DeviceSettings.RejectUnknown(spec, "value");
            DeviceSettings.Integer(spec, "value", 0, 0, 255);
        }

        public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [(0x600, 1)];

        public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
        {
            context.Ports.Register(0x600, 1, new Answer((byte)DeviceSettings.Integer(spec, "value", 0, 0, 255)), spec.Describe());
            return null;
        }

        private sealed class Answer(byte value) : IPortDevice
        {
            public uint ReadPort(ushort port, int size) => value;
            public void WritePort(ushort port, int size, uint value) { }
        }
    }

    [Fact]
    public void ADeviceTypeRegisteredInTheCatalogIsUsableFromADefinition()
    {
        File.WriteAllBytes(Path.Combine(_folder, "answer.bin"), Nasm.Assemble("""
            bits 16
            org 0x7c00
                mov dx, 0x600
                in al, dx
                out 0xf4, al
                hlt
                times 510 - ($ - $$) db 0
                dw 0xaa55
            """));
        string definition = Path.Combine(_folder, "answer.js");
        File.WriteAllText(definition, """
            import { machine, answerPort, debugExit } from 'virtshell';
            export default machine({
              name: 'answer', model: 'emulated', memory: '1M',
              devices: [answerPort({ value: 42 }), debugExit({ port: 0xf4 })],
              boot: { type: 'bootSector', image: './answer.bin' },
            });
            """);
        var models = ModelCatalog.CreateRegistry(_folder, BuiltInDevices.Catalog.With(new AnswerPortType(), "emulated"));
        Assert.Contains("answerPort", models.Find("emulated")!.DeviceTypes);
        Assert.DoesNotContain("answerPort", models.Find("hardware")!.DeviceTypes);

        var host = new VirtualizationHost(new MachineStore(_folder), models, new JsDefinitionLoader(models.Vocabulary));
        var vm = host.Create(definition, "answer");
        vm.Start();
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], GuestConsole.Timeout), "the guest did not finish");
        // isa-debug-exit reports (value << 1) | 1.
        Assert.Equal((ExitReason.DebugExit, 42 * 2 + 1), (vm.LastExit!.Reason, vm.LastExit.Status));
    }

    [Fact]
    public void ADeviceTypeOfAModelThatDoesNotAllowItIsRefusedNamingWhatTheModelKnows()
    {
        File.WriteAllBytes(Path.Combine(_folder, "boot.bin"), new byte[512]);
        string definition = Path.Combine(_folder, "misplaced.js");
        File.WriteAllText(definition, """
            import { machine, virtioRng } from 'virtshell';
            export default machine({
              name: 'misplaced', model: 'hardware', memory: '1M',
              devices: [virtioRng({ address: 0xd0000000, irq: 5 })],
              boot: { type: 'bootSector', image: './boot.bin' },
            });
            """);
        var spec = TestDefinitions.Loader().Load(definition).Spec;
        var e = Assert.Throws<DefinitionException>(() => ModelCatalog.CreateRegistry(_folder).Find("hardware")!.Validate(spec));
        Assert.Contains("unknown device type 'virtioRng'", e.Message);
        foreach (var type in BuiltInDevices.Catalog.For("hardware")) Assert.Contains(type.Name, e.Message);
    }

    [Fact]
    public void EveryCatalogTypeHasAConstructorInTheDefinitionModule()
    {
        var names = BuiltInDevices.Catalog.All.Select(t => t.Name).ToList();
        string definition = Path.Combine(_folder, "all.js");
        File.WriteAllText(definition, $$"""
            import * as virtshell from 'virtshell';
            const made = {{System.Text.Json.JsonSerializer.Serialize(names)}}.map(name => virtshell[name]({}).type);
            export default virtshell.machine({ name: 'all', model: 'container', memory: '1M', container: { made } });
            """);
        var spec = TestDefinitions.Loader().Load(definition).Spec;
        var made = ((Dictionary<string, object?>)spec.Sections["container"]!)["made"];
        Assert.Equal(names, ((IEnumerable<object?>)made!).Cast<string>());
    }

    [Fact]
    public void ATypeRegisteredTwiceOrNamedUnlikeAnIdentifierIsRefused()
    {
        Assert.Throws<ArgumentException>(() => BuiltInDevices.Catalog.With(new Uart16550DeviceType(), "emulated"));
        var vocabulary = new DefinitionVocabulary(["not-a-name"], []);
        var e = Assert.Throws<ArgumentException>(() => new JsDefinitionLoader(vocabulary));
        Assert.Contains("'not-a-name'", e.Message);
    }

    [Fact]
    public void TheDefinitionsGuideDocumentsEveryCatalogType()
    {
        string guide = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "definitions.md"));
        foreach (var type in BuiltInDevices.Catalog.All) Assert.Matches($@"(?m)^### .*\b{type.Name}\(", guide);
    }
}
