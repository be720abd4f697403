using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;
using VirtShell.Engine.Store;

namespace VirtShell.Tests.Engine;

/// <summary>The lifecycle of Machine and VirtualizationHost, with a model whose "guest" is a loop we control.</summary>
public class MachineLifecycleTests
{
    private sealed class LoopRuntime(MachineServices services) : IMachineRuntime
    {
        private readonly ManualResetEventSlim _stopped = new();
        private MachineExit? _exit;
        public MachineServices Services => services;
        public bool Paused;
        public MachineExit Run() { _stopped.Wait(); return _exit!; }
        public void RequestStop(MachineExit exit) { Interlocked.CompareExchange(ref _exit, exit, null); _stopped.Set(); }
        public bool RequestGracefulStop() => false;
        public void Pause() => Paused = true;
        public void Resume() => Paused = false;
        public GuestMemory? Memory => null;
        public MachineCounters Measure() => new() { Instructions = 1 };
        /// <summary>When set, Dispose signals <see cref="Disposing"/> and waits for it: a runtime slow to release.</summary>
        public ManualResetEventSlim? ReleaseGate;
        public readonly ManualResetEventSlim Disposing = new();
        public void Dispose()
        {
            Disposing.Set();
            ReleaseGate?.Wait();
            _stopped.Dispose();
        }
    }

    private sealed class LoopModel : IMachineModel
    {
        public LoopRuntime? Last;
        public string Name => "loop";
        public string Technique => "test";
        public ModelAvailability GetAvailability() => ModelAvailability.Available;
        public IReadOnlyCollection<string> DeviceTypes => [];
        public string? DefinitionSection => null;
        public void Validate(MachineSpec spec) { }
        public IMachineRuntime CreateRuntime(MachineSpec spec, MachineServices services) => Last = new LoopRuntime(services);
    }

    private sealed class Hooks(Action<IMachineApi>? beforeBoot = null) : IMachineHooks
    {
        public readonly List<string> Lines = [];
        public MachineExit? Exit;
        public void BeforeBoot(IMachineApi vm) => beforeBoot?.Invoke(vm);
        public void OnConsoleLine(IMachineApi vm, string line) { lock (Lines) Lines.Add(line); }
        public void OnExit(IMachineApi vm, MachineExit exit) => Exit = exit;
        public void Dispose() { }
    }

    private sealed class Loader(Func<IMachineHooks?> hooks) : IDefinitionLoader
    {
        public LoadedDefinition Load(string path, string? nameOverride = null, string? sourcePath = null) =>
            new(new MachineSpec { Name = nameOverride ?? "vm", Model = "loop", MemoryBytes = 1 << 20, DefinitionPath = sourcePath ?? path }, hooks());
    }

    private static (VirtualizationHost Host, LoopModel Model, string Definition) NewHost(Func<IMachineHooks?>? hooks = null)
    {
        string home = Directory.CreateTempSubdirectory().FullName;
        string definition = Path.Combine(home, "vm.js");
        File.WriteAllText(definition, "// test");
        var model = new LoopModel();
        return (new VirtualizationHost(new MachineStore(home), new ModelRegistry([model]), new Loader(hooks ?? (() => null))), model, definition);
    }

    private static readonly TimeSpan Second = TimeSpan.FromSeconds(10);

    [Fact]
    public void Stop_while_a_run_that_ended_by_itself_releases_its_runtime_waits_for_that_end()
    {
        var (host, model, def) = NewHost();
        var vm = host.Create(def, "ending");
        vm.Start();
        var runtime = model.Last!;
        runtime.ReleaseGate = new ManualResetEventSlim();
        runtime.Services.PowerOff(new MachineExit(ExitReason.GuestPowerOff, 7));
        Assert.True(runtime.Disposing.Wait(Second));
        var stop = Task.Run(() => vm.Stop(turnOff: true, Second));
        Thread.Sleep(100);
        runtime.ReleaseGate.Set();
        Assert.False(stop.Result);
        Assert.Equal(MachineState.Stopped, vm.State);
        Assert.Equal(ExitReason.GuestPowerOff, vm.LastExit!.Reason);
        Assert.Equal(7, vm.LastExit.Status);
    }

    [Fact]
    public void Waiting_on_a_machine_sees_a_start_made_by_another_host_of_the_same_store()
    {
        var (host, _, def) = NewHost();
        var watched = host.Create(def, "m1");
        // Another process's engine (Start-VirtMachine's host process): its own Machine objects over the same folder.
        var other = new VirtualizationHost(new MachineStore(host.Store.Home), host.Models, host.Loader);
        var running = Task.Run(() => watched.WaitFor([MachineState.Running], Second));
        var runner = other.Find("m1")!;
        runner.Start();
        Assert.True(running.Result);
        runner.Stop(turnOff: true, Second);
    }

    [Fact]
    public void Start_run_and_power_off_record_the_exit()
    {
        var hooks = new Hooks();
        var (host, model, def) = NewHost(() => hooks);
        var vm = host.Create(def, "m1");
        Assert.Equal(MachineState.Created, vm.State);
        vm.Start();
        Assert.Equal(MachineState.Running, vm.State);
        Assert.Equal(Environment.ProcessId, host.Store.Load("m1")!.OwnerProcessId);

        model.Last!.Services.Console.WriteFromGuest((byte)'A');
        model.Last.Services.Console.WriteFromGuest((byte)'\n');
        model.Last.Services.PowerOff(new MachineExit(ExitReason.DebugExit, 3));
        Assert.True(vm.WaitFor([MachineState.Stopped], Second));
        Assert.Equal(3, vm.LastExit!.Status);
        Assert.Equal(ExitReason.DebugExit, hooks.Exit!.Reason);
        Assert.Equal(["A"], hooks.Lines);
        var record = host.Store.Load("m1")!;
        Assert.Equal(MachineState.Stopped, record.State);
        Assert.Null(record.OwnerProcessId);
        Assert.Equal("A\n", File.ReadAllText(vm.ConsoleLogPath));
    }

    [Fact]
    public void Pause_resume_and_stop_by_the_user()
    {
        var (host, model, def) = NewHost();
        var vm = host.Create(def, "m1");
        vm.Start();
        vm.Pause();
        Assert.Equal(MachineState.Paused, vm.State);
        Assert.True(model.Last!.Paused);
        Assert.Throws<MachineStateException>(vm.Start);
        vm.Resume();
        Assert.False(model.Last.Paused);
        vm.Stop(turnOff: true, Second);
        Assert.Equal(MachineState.Stopped, vm.State);
        Assert.Equal(ExitReason.StoppedByUser, vm.LastExit!.Reason);
        Assert.Throws<MachineStateException>(vm.Resume);
    }

    [Fact]
    public void A_failing_before_boot_hook_crashes_the_machine_and_the_host_goes_on()
    {
        var (host, _, def) = NewHost(() => new Hooks(_ => throw new HookException("beforeBoot ran out of time at vm.js:3")));
        var vm = host.Create(def, "m1");
        var e = Assert.Throws<HookException>(vm.Start);
        Assert.Contains("vm.js:3", e.Message);
        Assert.Equal(MachineState.Crashed, vm.State);
        Assert.Equal(ExitReason.HookError, vm.LastExit!.Reason);
        Assert.Equal(MachineState.Crashed, host.Store.Load("m1")!.State);
    }

    // Machine saves these states without an fsync, trusting this recovery after a power cut: it must cover each one.
    [Theory]
    [InlineData(MachineState.Starting)]
    [InlineData(MachineState.Running)]
    [InlineData(MachineState.Paused)]
    [InlineData(MachineState.Stopping)]
    public void A_machine_left_running_by_a_host_process_that_died_is_listed_as_crashed_and_its_socket_removed(MachineState left)
    {
        var (host, _, def) = NewHost();
        host.Create(def, "m1");
        var record = host.Store.Load("m1")!;
        host.Store.Save(record with { State = left, OwnerProcessId = int.MaxValue - 1, OwnerProcessStart = DateTimeOffset.UnixEpoch }, durable: false);
        string socket = Path.Combine(host.Store.MachineDirectory("m1"), MachineStore.ControlSocketFile);
        File.WriteAllText(socket, ""); // what a killed host leaves

        var other = new VirtualizationHost(host.Store, host.Models, host.Loader);
        var vm = other.Find("m1")!;
        Assert.Equal(MachineState.Crashed, vm.State);
        Assert.Equal(ExitReason.HostProcessEnded, vm.LastExit!.Reason);
        Assert.Equal(MachineState.Crashed, host.Store.Load("m1")!.State);
        Assert.False(File.Exists(socket));
    }

    [Fact]
    public void Every_caller_sees_the_same_machine_and_removal_needs_it_stopped()
    {
        var (host, _, def) = NewHost();
        var vm = host.Create(def, "m1");
        Assert.Same(vm, host.Find("m1"));
        Assert.Throws<MachineExistsException>(() => host.Create(def, "m1"));
        vm.Start();
        Assert.Throws<MachineStateException>(() => host.Remove(vm));
        vm.Stop(turnOff: true, Second);
        host.Remove(vm);
        Assert.Null(host.Find("m1"));
        Assert.Empty(host.List());
    }
}
