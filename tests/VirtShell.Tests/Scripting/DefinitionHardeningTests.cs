using VirtShell.Tests.Models;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Scripting;
using Xunit;

namespace VirtShell.Tests.Scripting;

/// <summary>
/// Definitions written to hang the shell or to confuse the loader (issue 13): every one returns, with an error that
/// says what is wrong and where, never a ClearScript type name.
/// </summary>
public class DefinitionHardeningTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);
    private static readonly ScriptLimits ShortLoad = new() { LoadTimeout = TimeSpan.FromMilliseconds(500) };

    /// <summary>Loads on another thread so that a hang fails the test instead of stalling the run.</summary>
    private static DefinitionException LoadFails(JsDefinitionLoader loader, string path)
    {
        var load = Task.Run(() => loader.Load(path));
        Assert.True(((IAsyncResult)load).AsyncWaitHandle.WaitOne(HangGuard), "the load did not return");
        var e = Assert.IsType<DefinitionException>(load.Exception?.GetBaseException());
        Assert.DoesNotContain("ClearScript", e.Message);
        return e;
    }

    private const string Spinning = "{ while (true) {} }";

    [Theory]
    [InlineData("machine(new Proxy({}, { ownKeys() " + Spinning + " }))")]
    [InlineData("machine(new Proxy({}, { ownKeys: () => ['name'], getOwnPropertyDescriptor() " + Spinning + " }))")]
    [InlineData("machine({ name: 'p', model: 'emulated', memory: '1M', hooks: new Proxy({}, { ownKeys() " + Spinning + " }) })")]
    [InlineData("machine({ name: 'p', model: 'container', memory: '1M', container: new Proxy({}, { ownKeys() " + Spinning + " }) })")]
    [InlineData("machine({ name: 'p', model: 'emulated', get memory() " + Spinning + " })")]
    public void ProxyTrapsAndGettersThatSpinRunOutOfTheLoadBudget(string export)
    {
        using var dir = new TempFolder();
        string path = dir.Write("spin.js", $"import {{ machine }} from 'virtshell';\nexport default {export};\n");
        var e = LoadFails(TestDefinitions.Loader(ShortLoad), path);
        Assert.Contains("did not finish within 0.5 s", e.Message);
    }

    [Fact]
    public void FinalizationCallbacksCannotRunOutsideTheBudget()
    {
        using var dir = new TempFolder();
        string path = dir.Write("finalizers.js", """
            import { machine } from 'virtshell';
            const fr = new FinalizationRegistry(() => { while (true) {} });
            for (let i = 0; i < 1e5; i++) fr.register({}, i);
            export default machine({ name: 'f', model: 'emulated', memory: '1M' });
            """);
        var loader = TestDefinitions.Loader(ShortLoad);
        var e = LoadFails(loader, path);
        Assert.Contains($"{path}:2", e.Message);
        Assert.Contains("FinalizationRegistry is not defined", e.Message);

        // Neither are the other sources of script code run from V8's own tasks.
        string probe = dir.Write("probe.js", """
            import { machine } from 'virtshell';
            const found = [typeof FinalizationRegistry, typeof WebAssembly, typeof Atomics.waitAsync].join();
            export default machine({ name: 'f', model: 'emulated', memory: '1M', container: { found } });
            """);
        using var loaded = loader.Load(probe);
        Assert.Equal("undefined,undefined,undefined", ((Dictionary<string, object?>)loaded.Spec.Sections["container"]!)["found"]);
    }

    [Theory]
    [InlineData("while (true) {}\nexport default machine({});")]
    [InlineData("export default machine(new Proxy({}, { ownKeys() { while (true) {} } }));")]
    public void AStopRequestInterruptsALoadAtOnce(string body)
    {
        using var dir = new TempFolder();
        string path = dir.Write("forever.js", $"import {{ machine }} from 'virtshell';\n{body}\n");
        // A budget of a day: only the stop request can end this load.
        var loader = TestDefinitions.Loader(new ScriptLimits { LoadTimeout = TimeSpan.FromDays(1) });
        var load = Task.Run(() => loader.Load(path));
        var deadline = DateTime.UtcNow + HangGuard;
        while (!load.IsCompleted && DateTime.UtcNow < deadline)
        {
            loader.InterruptLoads();
            ((IAsyncResult)load).AsyncWaitHandle.WaitOne(TimeSpan.FromMilliseconds(50));
        }
        Assert.True(load.IsCompleted, "the load did not stop");
        var e = Assert.IsType<DefinitionException>(load.Exception?.GetBaseException());
        Assert.Contains("stopped by a stop request", e.Message);

        // The stop was for that load only: the next one runs.
        using var next = loader.Load(Fixtures.Get("hello.js"));
        Assert.Equal("hello", next.Spec.Name);
    }

    [Fact]
    public void AWrongKindOfValueIsNamedNotItsDotNetType()
    {
        using var dir = new TempFolder();
        string path = dir.Write("memory.js", """
            import { machine } from 'virtshell';
            export default machine({ name: 'm', model: 'emulated',
              memory: [] });
            """);
        var e = LoadFails(TestDefinitions.Loader(), path);
        Assert.Contains($"{path}:3", e.Message);
        Assert.Contains("memory must be a number of bytes or a string such as '1M', not an array", e.Message);
    }

    [Theory]
    [InlineData("{ name: 'g', model: 'emulated', get memory() { throw new Error('no memory for you'); } }")]
    [InlineData("new Proxy({}, { ownKeys() { throw new Error('no memory for you'); } })")]
    public void AThrowingGetterOrTrapReportsItsOwnErrorAndLine(string options)
    {
        using var dir = new TempFolder();
        string path = dir.Write("throws.js", $"import {{ machine }} from 'virtshell';\nexport default machine({options});\n");
        var e = LoadFails(TestDefinitions.Loader(), path);
        Assert.Contains($"{path}:2", e.Message);
        Assert.Contains("Error: no memory for you", e.Message);
        Assert.DoesNotContain("pending", e.Message);
    }

    [Fact]
    public void ATopLevelAwaitThatNeverSettlesIsSaidSo()
    {
        using var dir = new TempFolder();
        string path = dir.Write("await.js", """
            import { machine } from 'virtshell';
            await new Promise(() => {});
            export default machine({ name: 'a', model: 'emulated', memory: '1M' });
            """);
        var e = LoadFails(TestDefinitions.Loader(), path);
        Assert.Contains("never finished", e.Message);
        Assert.Contains("top-level await", e.Message);
    }

    [Fact]
    public void AnErrorAfterATopLevelAwaitKeepsItsLine()
    {
        using var dir = new TempFolder();
        string path = dir.Write("await.js", """
            import { machine } from 'virtshell';
            await null;
            throw new RangeError('after the await');
            """);
        var e = LoadFails(TestDefinitions.Loader(), path);
        Assert.Contains($"{path}:3", e.Message);
        Assert.Contains("RangeError: after the await", e.Message);
    }

    [Theory]
    [InlineData("devices: Object.assign([], { length: 2**32 - 1 })", "'devices' is an array of length 4294967295")]
    [InlineData("boot: { image: 'guests/hello.bin', modules: Object.assign([], { length: 2**31 }) }", "boot 'modules' is an array of length 2147483648")]
    [InlineData("container: { list: Object.assign([], { length: 2**30 }) }", "container.list is an array of length 1073741824")]
    public void HugeArraysAreRefusedNotEmptied(string field, string expected)
    {
        using var dir = new TempFolder();
        string path = dir.Write("huge.js", $"import {{ machine }} from 'virtshell';\nexport default machine({{ name: 'h', model: 'emulated', memory: '1M',\n  {field} }});\n");
        var e = LoadFails(TestDefinitions.Loader(), path);
        Assert.Contains(expected, e.Message);
        Assert.Contains($"{path}:", e.Message);
    }

    [Fact]
    public void CyclesAreNamed()
    {
        using var dir = new TempFolder();
        string path = dir.Write("cycle.js", """
            import { machine } from 'virtshell';
            const loop = { a: 1 };
            loop.self = loop;
            export default machine({ name: 'c', model: 'emulated', memory: '1M', container: loop });
            """);
        var e = LoadFails(TestDefinitions.Loader(), path);
        Assert.Contains("container.self is a cycle", e.Message);
    }

    [Fact]
    public void ARejectedAsyncHookFailsLikeAThrowingOne()
    {
        using var dir = new TempFolder();
        string path = dir.Write("async.js", """
            import { machine } from 'virtshell';
            export default machine({ name: 'a', model: 'emulated', memory: '1M',
              hooks: {
                async beforeBoot(vm) {
                  await null;
                  throw new Error('rejected at boot');
                },
                async onConsoleLine(vm, line) {
                  await null;
                  if (line === 'bad') throw new TypeError('rejected on a line');
                },
              },
            });
            """);
        using var loaded = TestDefinitions.Loader().Load(path);
        using var vm = new FakeMachineApi();
        var e = Assert.Throws<HookException>(() => loaded.Hooks!.BeforeBoot(vm));
        Assert.Contains($"hook beforeBoot failed at {path}:6", e.Message);
        Assert.Contains("Error: rejected at boot", e.Message);

        loaded.Hooks!.OnConsoleLine(vm, "good");
        loaded.Hooks!.OnConsoleLine(vm, "bad");
        Assert.True(FakeMachineApi.WaitFor(() => !vm.Failures.IsEmpty, HangGuard));
        string failure = Assert.Single(vm.Failures);
        Assert.Contains($"hook onConsoleLine failed at {path}:10", failure);
        Assert.Contains("TypeError: rejected on a line", failure);
    }

    [Fact]
    public void HooksAndDevicesAreTheFunctionsGivenWithTheirObjectAsThis()
    {
        using var dir = new TempFolder();
        string path = dir.Write("this.js", """
            import { machine, scriptDevice } from 'virtshell';
            let count = 0;
            const hooks = {
              beforeBoot(vm) { vm.log(`${this === hooks} ${++count}`); },
            };
            export default machine({ name: 't', model: 'emulated', memory: '1M', hooks,
              devices: [scriptDevice({ ports: [0x80], value: 0x41, read() { return this.value; } })] });
            """);
        using var loaded = TestDefinitions.Loader().Load(path);
        using var vm = new FakeMachineApi();
        loaded.Hooks!.BeforeBoot(vm);
        loaded.Hooks!.BeforeBoot(vm);
        Assert.Equal(["true 1", "true 2"], vm.Logs);
        var device = loaded.Spec.Devices.Single().Implementation!;
        Assert.Equal(0x41u, device.ReadPort(0x80, 1));
        Assert.Empty(vm.Failures);
    }
}
