using System.Runtime.CompilerServices;
using System.Text;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Models;
using VirtShell.Models.Hardware;

namespace VirtShell.Tests.Kvm;

/// <summary>The hardware model end to end, without the script loader: the hello guest on KVM with our UART.</summary>
[Collection(KvmCollection.Name)]
public class HardwareModelTests
{
    private static readonly string MachineDefs = Path.GetFullPath(Path.Combine(SourceDirectory(), "../../../machine-defs"));

    [KvmFact]
    public void The_hello_guest_greets_echoes_through_the_interrupt_driven_uart_and_powers_off()
    {
        var spec = HelloSpec();
        using var console = new ConsoleChannel(null);
        IMachineRuntime? runtime = null;
        var services = new MachineServices(console, exit => runtime!.RequestStop(exit), _ => { });
        var model = new HardwareModel();
        model.Validate(spec);
        using (runtime = model.CreateRuntime(spec, services))
        {
            MachineExit? exit = null;
            var thread = new Thread(() => exit = runtime.Run());
            thread.Start();
            try
            {
                WaitForText(console, "'exit' powers off.\r\n");
                console.SendInput("hi there\r");
                WaitForText(console, "hi there\r\n");
                console.SendInput("exit\r");
                Assert.True(thread.Join(TimeSpan.FromSeconds(20)), "the guest did not power off");
            }
            finally
            {
                runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser));
                thread.Join();
            }
            Assert.Equal(ExitReason.DebugExit, exit!.Reason);
            Assert.Equal(1, exit.Status);
            Assert.EndsWith("Goodbye.\r\n", Text(console));
            Assert.True(runtime.Counters["IoExits"] > 100, "every UART access is a port exit");
        }
    }

    [KvmFact]
    public void A_device_on_a_port_the_kernel_answers_is_refused_before_boot()
    {
        var spec = HelloSpec() with
        {
            Devices = [new DeviceSpec { Type = "debugExit", Settings = new Dictionary<string, object?> { ["port"] = 0x61L } }],
        };
        var error = Assert.Throws<DefinitionException>(() => new HardwareModel().Validate(spec));
        Assert.Contains("speaker", error.Message);
    }

    [Fact]
    public void The_catalog_lists_the_hardware_model_with_its_availability()
    {
        var model = ModelCatalog.CreateRegistry().Find("hardware");
        Assert.IsType<HardwareModel>(model);
        Assert.Equal(Cpu.Kvm.KvmHost.GetAvailability(), model.GetAvailability());
    }

    private static MachineSpec HelloSpec() => new()
    {
        Name = "hello",
        Model = "hardware",
        MemoryBytes = 1 << 20,
        Devices =
        [
            new DeviceSpec { Type = "uart16550", Settings = new Dictionary<string, object?> { ["port"] = 0x3F8L, ["irq"] = 4L, ["console"] = true } },
            new DeviceSpec { Type = "debugExit", Settings = new Dictionary<string, object?> { ["port"] = 0xF4L } },
        ],
        Boot = new BootSpec { Image = HelloImage(), LoadAddress = 0x7C00 },
    };

    /// <summary>The hello guest of machine-defs, assembled from its source (the built .bin may be older or absent).</summary>
    private static string HelloImage()
    {
        string image = Path.Combine(Directory.CreateTempSubdirectory("virtshell-hello-").FullName, "hello.bin");
        File.WriteAllBytes(image, Nasm.Assemble(File.ReadAllText(Path.Combine(MachineDefs, "guests/hello.asm"))));
        return image;
    }

    private static string Text(ConsoleChannel console)
    {
        long offset = 0;
        return Encoding.ASCII.GetString(console.ReadFrom(ref offset));
    }

    private static void WaitForText(ConsoleChannel console, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!Text(console).Contains(text))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no '{text}' on the console; it has: {Text(console)}");
            console.WaitForOutput(console.Position, TimeSpan.FromMilliseconds(100));
        }
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
