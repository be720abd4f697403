using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Kvm;

/// <summary>machine-defs/paravirtual-hello.js: an adapted guest on KVM with virtio and hypercalls, no legacy devices.</summary>
[Collection(KvmCollection.Name)]
public class ParavirtualHelloTests
{
    private static VirtualizationHost NewHost()
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        return TestDefinitions.Host(store);
    }

    [KvmFact]
    public void The_adapted_guest_prints_through_virtio_reads_its_blob_and_powers_off_by_hypercall()
    {
        RepoPaths.RequireGuest("guests/paravirtual-hello.bin");
        var vm = NewHost().Create(RepoPaths.MachineDef("paravirtual-hello.js"), "pv-test");
        vm.Start();
        long offset = 0;
        string printed = GuestConsole.WaitForText(vm, ref offset, "Powering off through a hypercall.");
        Assert.Contains("Hello from a paravirtual guest", printed);
        Assert.Contains("This line is a blob the definition handed to the guest.", printed);
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], GuestConsole.Timeout));
        Assert.Equal(ExitReason.GuestPowerOff, vm.LastExit!.Reason);
        Assert.Equal(7, vm.LastExit.Status);
        Assert.Contains("the paravirtual guest read its blob", File.ReadAllText(Path.Combine(vm.Directory, MachineStore.LogFile)));
    }

    [Fact]
    public void Legacy_hardware_is_refused_by_name_except_one_early_console_uart()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        string image = RepoPaths.RequireGuest("guests/paravirtual-hello.bin");
        string Write(string devices)
        {
            string path = Path.Combine(dir, $"pv-{Guid.NewGuid():N}.js");
            File.WriteAllText(path, $$"""
                import { machine, uart16550, debugExit, virtioConsole } from 'virtshell';
                export default machine({
                  name: 'pv', model: 'paravirtual', memory: '2M',
                  devices: [
                    {{devices}}
                  ],
                  boot: { image: '{{image}}', load: 0x100000, mode: 'protected' },
                });
                """);
            return path;
        }
        var host = NewHost();
        var e = Assert.Throws<DefinitionException>(() => host.Validate(Write("uart16550({ port: 0x3f8 }),")));
        Assert.Contains(":5", e.Message);
        Assert.Contains("earlyConsole", e.Message);
        e = Assert.Throws<DefinitionException>(() => host.Validate(Write("debugExit({ port: 0xf4 }),")));
        Assert.Contains("unknown device type 'debugExit'", e.Message);
        e = Assert.Throws<DefinitionException>(() => host.Validate(Write("virtioConsole({ address: 0x100000, irq: 5 }),")));
        Assert.Contains("RAM", e.Message);
        host.Validate(Write("uart16550({ port: 0x3f8, earlyConsole: true }), virtioConsole({ address: 0xd0000000, irq: 5 }),"));
    }
}
