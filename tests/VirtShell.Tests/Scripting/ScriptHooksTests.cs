using VirtShell.Tests.Models;
using System.Diagnostics;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Machines;
using VirtShell.Scripting;
using Xunit;
using Xunit.Abstractions;

namespace VirtShell.Tests.Scripting;

public class ScriptHooksTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public void BeforeBootRunsAndReachesTheMachine()
    {
        using var loaded = TestDefinitions.Loader().Load(Fixtures.Get("hooks.js"));
        using var vm = new FakeMachineApi { Name = "m1" };
        vm.Memory.Write(0x200, [9, 8, 7, 6]);

        loaded.Hooks!.BeforeBoot(vm);

        var logs = vm.Logs.ToArray();
        Assert.Equal("booting m1", logs[0]);
        Assert.Equal("read 9,8,7,6", logs[1]);
        Assert.Equal([1, 2, 3, 0xff], vm.Memory.Read(0x100, 4));
        Assert.Equal(3, vm.Console.PendingInput);
        Assert.True(vm.Console.TryReadInput(out byte h) && h == (byte)'h');
        // The vm object is plain JS: no .NET members leak through it.
        Assert.Equal("shape console,files,log,memory,name,stop undefined undefined", logs[2]);
        Assert.Empty(vm.Failures);
    }

    [Fact]
    public void BeforeBootWritesAndReadsTheGuestsFiles()
    {
        using var dir = new TempFolder();
        string path = dir.Write("files.js", """
            import { machine } from 'virtshell';
            export default machine({
              name: 'c1', model: 'container', memory: '64M',
              hooks: {
                beforeBoot(vm) {
                  vm.files.write('/etc/motd', 'hello from the hook\n');
                  vm.files.write('/bin/tool', [0x7f, 0x45], 0o755);
                  vm.log(vm.files.read('/etc/motd').trim());
                },
              },
            });
            """);
        using var loaded = TestDefinitions.Loader().Load(path);
        using var vm = new FakeMachineApi();
        loaded.Hooks!.BeforeBoot(vm);
        Assert.Equal("hello from the hook\n"u8.ToArray(), vm.Files.Written["/etc/motd"].Content);
        Assert.Equal(0x1A4u, vm.Files.Written["/etc/motd"].Mode);
        Assert.Equal([0x7f, 0x45], vm.Files.Written["/bin/tool"].Content);
        Assert.Equal(0x1EDu, vm.Files.Written["/bin/tool"].Mode);
        Assert.Equal("hello from the hook", vm.Logs.Single());
    }

    [Fact]
    public void ConsoleLinesRunInOrderWithoutMakingTheGuestWait()
    {
        using var loaded = TestDefinitions.Loader().Load(Fixtures.Get("hooks.js"));
        using var vm = new FakeMachineApi();
        loaded.Hooks!.BeforeBoot(vm);
        int before = vm.Logs.Count;

        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 200; i++) loaded.Hooks.OnConsoleLine(vm, $"n{i}");
        loaded.Hooks.OnConsoleLine(vm, "stop");
        output.WriteLine($"200 lines queued in {sw.Elapsed.TotalMilliseconds:0.0} ms");

        Assert.True(FakeMachineApi.WaitFor(() => vm.StopRequests == 1, Wait));
        var lines = vm.Logs.Skip(before).ToArray();
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"line n{i}").Append("line stop"), lines);
    }

    [Fact]
    public void OnExitSeesTheExitAfterQueuedLines()
    {
        using var loaded = TestDefinitions.Loader().Load(Fixtures.Get("hooks.js"));
        using var vm = new FakeMachineApi();
        loaded.Hooks!.BeforeBoot(vm);
        loaded.Hooks.OnConsoleLine(vm, "last words");
        loaded.Hooks.OnExit(vm, new MachineExit(ExitReason.DebugExit, 3, "port 0xf4"));
        Assert.Equal(["line last words", "exit DebugExit 3 port 0xf4"], vm.Logs.TakeLast(2));
    }

    [Fact]
    public void SlowConsoleHookDoesNotHoldUpTheExitForLong()
    {
        using var dir = new TempFolder();
        string path = dir.Write("slow.js", """
            import { machine } from 'virtshell';
            export default machine({ name: 's', model: 'emulated', memory: '64K', hooks: {
              onConsoleLine(vm, line) { const end = Date.now() + 200; while (Date.now() < end) {} vm.log(line); },
              onExit(vm, exit) { vm.log('exit'); },
            } });
            """);
        using var loaded = TestDefinitions.Loader().Load(path);
        using var vm = new FakeMachineApi();
        for (int i = 0; i < 50; i++) loaded.Hooks!.OnConsoleLine(vm, $"n{i}");

        loaded.Hooks!.OnExit(vm, new MachineExit(ExitReason.StoppedByUser));
        output.WriteLine(string.Join(" | ", vm.Logs));
        var logs = vm.Logs.ToArray();
        Assert.Equal("n0", logs[0]);
        Assert.Contains("exit", logs);
        Assert.Contains(logs, l => l.Contains("did not reach onConsoleLine"));
    }

    [Fact]
    public void RunawayBeforeBootIsInterruptedAndReported()
    {
        var limits = new ScriptLimits { HookTimeout = TimeSpan.FromMilliseconds(300) };
        string path = Fixtures.Get("runaway.js");
        using var loaded = TestDefinitions.Loader(limits).Load(path);
        using var vm = new FakeMachineApi();

        var e = Assert.Throws<HookException>(() => loaded.Hooks!.BeforeBoot(vm));
        output.WriteLine(e.Message);
        Assert.Contains("beforeBoot", e.Message);
        Assert.Contains($"{path}:8", e.Message);
        Assert.Contains("interrupted", e.Message);

        // The engine is still usable after the interrupt.
        loaded.Hooks!.OnExit(vm, new MachineExit(ExitReason.HookError));
        Assert.Contains("exit still runs", vm.Logs);
    }

    [Fact]
    public void RunawayConsoleHookFailsTheMachine()
    {
        var limits = new ScriptLimits { HookTimeout = TimeSpan.FromMilliseconds(300) };
        string path = Fixtures.Get("runaway.js");
        using var loaded = TestDefinitions.Loader(limits).Load(path);
        using var vm = new FakeMachineApi();

        loaded.Hooks!.OnConsoleLine(vm, "spin");
        loaded.Hooks.OnConsoleLine(vm, "after");
        // Had the guest waited for the hook, the hook would have been interrupted, and failed the machine, by now.
        Assert.Empty(vm.Failures);
        Assert.True(FakeMachineApi.WaitFor(() => !vm.Failures.IsEmpty, Wait));
        string failure = Assert.Single(vm.Failures);
        output.WriteLine(failure);
        Assert.Contains("onConsoleLine", failure);
        Assert.Contains($"{path}:11", failure);
        Thread.Sleep(100);
        Assert.DoesNotContain("line after", vm.Logs); // a failed hook is not called again
    }

    [Fact]
    public void ScriptErrorInAHookNamesTheMessageAndLine()
    {
        string path = Fixtures.Get("throws.js");
        using var loaded = TestDefinitions.Loader().Load(path);
        using var vm = new FakeMachineApi();

        var e = Assert.Throws<HookException>(() => loaded.Hooks!.BeforeBoot(vm));
        output.WriteLine(e.Message);
        Assert.Contains("beforeBoot", e.Message);
        Assert.Contains("is not RAM", e.Message);
        Assert.Contains($"{path}:12", e.Message);
        Assert.DoesNotContain("   at ", e.Message);

        loaded.Hooks!.OnConsoleLine(vm, "bad");
        Assert.True(FakeMachineApi.WaitFor(() => !vm.Failures.IsEmpty, Wait));
        string failure = Assert.Single(vm.Failures);
        Assert.Contains("bad line seen", failure);
        Assert.Contains($"{path}:4", failure);
    }

    [Fact]
    public void HeapHogFailsTheHookAndTheProcessCarriesOn()
    {
        var limits = new ScriptLimits { HookTimeout = TimeSpan.FromSeconds(20), HeapBytes = 32UL << 20 };
        using (var hog = TestDefinitions.Loader(limits).Load(Fixtures.Get("heaphog.js")))
        using (var vm = new FakeMachineApi())
        {
            var sw = Stopwatch.StartNew();
            var e = Assert.Throws<HookException>(() => hog.Hooks!.BeforeBoot(vm));
            output.WriteLine($"{e.Message} after {sw.ElapsedMilliseconds} ms");
            Assert.Contains("beforeBoot", e.Message);
            Assert.Contains("heap limit of 32 MiB", e.Message);

            hog.Hooks!.OnExit(vm, new MachineExit(ExitReason.HookError));
            Assert.Contains("exit after hog", vm.Logs);
        }

        using var next = TestDefinitions.Loader().Load(Fixtures.Get("hooks.js"));
        using var other = new FakeMachineApi { Name = "after-hog" };
        next.Hooks!.BeforeBoot(other);
        Assert.Equal("booting after-hog", other.Logs.First());
    }

    [Theory]
    // V8 runs these in C++ without interrupt checks; unguarded they abort the process or ignore the budget.
    [InlineData("new Array(1e9).fill(0);")]
    [InlineData("const a = []; a[1e9 - 1] = 1; a.toReversed();")]
    [InlineData("const a = []; a[1e9 - 1] = 1; a.reverse();")]
    [InlineData("Array.prototype.fill.call({ length: 1e9 }, 0);")]
    [InlineData("const m = new Map(); for (let i = 0; ; i++) m.set(i, { i, s: 'v' + i });")]
    [InlineData("const b = []; for (;;) b.push(new Uint8Array(1 << 20));")]
    [InlineData("let s = 'x'; for (;;) s += s;")]
    public void EveryKindOfHogEndsAsAHookError(string hog)
    {
        using var dir = new TempFolder();
        string path = dir.Write("hog.js", $"import {{ machine }} from 'virtshell';\nexport default machine({{ name: 'h', model: 'emulated', memory: '64K',\n  hooks: {{ beforeBoot(vm) {{ {hog} }} }} }});\n");
        var limits = new ScriptLimits { HookTimeout = TimeSpan.FromSeconds(20), HeapBytes = 32UL << 20 };
        using var loaded = TestDefinitions.Loader(limits).Load(path);
        using var vm = new FakeMachineApi();
        var e = Assert.Throws<HookException>(() => loaded.Hooks!.BeforeBoot(vm));
        output.WriteLine(e.Message);
        Assert.Contains("beforeBoot", e.Message);
    }

    [Fact]
    public void ScriptDeviceAnswersThroughThePortBus()
    {
        using var loaded = TestDefinitions.Loader().Load(Fixtures.Get("hooks.js"));
        using var vm = new FakeMachineApi();
        var device = loaded.Spec.Devices.Single().Implementation!;
        var bus = new IoPortBus();
        bus.Register(0x510, 2, device, "scriptDevice");

        Assert.Equal(0xFFu, bus.Read(0x510, 1)); // no machine yet (before beforeBoot): reads as nothing there

        loaded.Hooks!.BeforeBoot(vm);
        Assert.Equal(0x42u, bus.Read(0x510, 1));
        bus.Write(0x511, 2, 0x1234);
        Assert.Equal(0x1234u, bus.Read(0x511, 2));
        Assert.Equal(0x34u, bus.Read(0x511, 1));
        bus.Write(0x511, 4, 0xDEADBEEF);
        Assert.Equal(0xDEADBEEFu, bus.Read(0x511, 4));
        Assert.Empty(vm.Failures);
    }

    [Theory]
    [InlineData("read(port, size) { throw new Error('device broke'); }", "device broke")]
    [InlineData("read(port, size) { for (;;) {} }", "interrupted")]
    [InlineData("read(port, size) { return 'abc'; }", "not a number")]
    public void FailingScriptDeviceFailsTheMachineAndReadsAllOnes(string read, string expected)
    {
        using var dir = new TempFolder();
        string path = dir.Write("dev.js", $$"""
            import { machine, scriptDevice } from 'virtshell';
            export default machine({ name: 'd', model: 'emulated', memory: '64K',
              devices: [
                scriptDevice({ ports: [0x80], {{read}} }),
              ] });
            """);
        using var loaded = TestDefinitions.Loader(new ScriptLimits { HookTimeout = TimeSpan.FromMilliseconds(300) }).Load(path);
        using var vm = new FakeMachineApi();
        loaded.Hooks!.BeforeBoot(vm);
        var device = loaded.Spec.Devices.Single().Implementation!;

        Assert.Equal(0xFFFFu, device.ReadPort(0x80, 2));
        string failure = Assert.Single(vm.Failures);
        output.WriteLine(failure);
        Assert.Contains(expected, failure);
        Assert.Contains($"{path}:4", failure);
        Assert.Equal(0xFFu, device.ReadPort(0x80, 1));
        Assert.Single(vm.Failures);
    }

    [Fact]
    public void DisposedHooksReportInsteadOfCrashing()
    {
        var loaded = TestDefinitions.Loader().Load(Fixtures.Get("hooks.js"));
        using var vm = new FakeMachineApi();
        loaded.Dispose();
        Assert.Throws<HookException>(() => loaded.Hooks!.BeforeBoot(vm));
        loaded.Hooks!.OnConsoleLine(vm, "ignored");
        Assert.Equal(0xFFu, loaded.Spec.Devices.Single().Implementation!.ReadPort(0x510, 1));
    }
}
