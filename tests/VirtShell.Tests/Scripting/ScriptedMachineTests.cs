using VirtShell.Tests.Models;
using System.Collections.Concurrent;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;
using VirtShell.Engine.Store;
using VirtShell.Scripting;
using Xunit;

namespace VirtShell.Tests.Scripting;

/// <summary>A JavaScript definition driving a real <see cref="Machine"/>: hooks, script device and console in their places.</summary>
public class ScriptedMachineTests
{
    [Fact]
    public void DefinitionHooksAndScriptDeviceDriveAMachine()
    {
        using var home = new TempFolder();
        var host = new VirtualizationHost(new MachineStore(home.Path), new ModelRegistry([new GuestPlayingModel()]), TestDefinitions.Loader());
        var machine = host.Create(Fixtures.Get("machine.js"));
        var logs = new ConcurrentQueue<string>();
        machine.Logged += (_, message) => logs.Enqueue(message);

        machine.Start();
        Assert.True(machine.WaitFor([MachineState.Stopped, MachineState.Crashed], TimeSpan.FromSeconds(20)));

        Assert.Equal(ExitReason.StoppedByUser, machine.LastExit!.Reason); // vm.stop() from onConsoleLine
        Assert.Equal(
            ["booting scripted", "guest said memory aa", "guest said port 41 42", "guest said PANIC now", "exit StoppedByUser after 2 reads"],
            logs.ToArray());
        // The spec, settings included, survived the round trip through machine.json.
        var saved = host.Store.Load("scripted")!.Spec;
        Assert.Equal("scriptDevice", saved.Devices.Single().Type);
        var ports = (System.Text.Json.JsonElement)saved.Devices.Single().Settings["ports"]!;
        Assert.Equal([0x510L], ports.EnumerateArray().Select(p => p.GetInt64()));
    }

    /// <summary>A model whose "guest" checks what beforeBoot wrote, reads the script device and prints until stopped.</summary>
    private sealed class GuestPlayingModel : IMachineModel
    {
        public string Name => "fake";
        public string Technique => "test double";
        public ModelAvailability GetAvailability() => ModelAvailability.Available;
        public IReadOnlyCollection<string> DeviceTypes => ["scriptDevice"];
        public string? DefinitionSection => null;
        public void Validate(MachineSpec spec) { }
        public IMachineRuntime CreateRuntime(MachineSpec spec, MachineServices services) => new Runtime(spec, services);
    }

    private sealed class Runtime : IMachineRuntime
    {
        private readonly MachineServices _services;
        private readonly IoPortBus _ports = new();
        private readonly ManualResetEventSlim _stopped = new();
        private MachineExit? _exit;

        public Runtime(MachineSpec spec, MachineServices services)
        {
            _services = services;
            Memory = new GuestMemory();
            Memory.AddRam(0, spec.MemoryBytes);
            _ports.Register(0x510, 1, spec.Devices.Single().Implementation!, "scriptDevice");
        }

        public GuestMemory? Memory { get; }
        public MachineCounters Measure() => new();

        public MachineExit Run()
        {
            Print($"memory {Memory!.Read(0x10, 1)[0]:x2}");
            Print($"port {_ports.Read(0x510, 1):x2} {_ports.Read(0x510, 1):x2}");
            Print("PANIC now");
            _stopped.Wait(TimeSpan.FromSeconds(10));
            return _exit ?? new MachineExit(ExitReason.InternalError, Detail: "never stopped");
        }

        private void Print(string line)
        {
            foreach (char c in line + "\n") _services.Console.WriteFromGuest((byte)c);
        }

        public bool RequestGracefulStop() => false;

        public void RequestStop(MachineExit exit)
        {
            Interlocked.CompareExchange(ref _exit, exit, null);
            _stopped.Set();
        }

        public void Pause() => throw new NotSupportedException();
        public void Resume() { }
        public void Dispose() => Memory!.Dispose();
    }
}
