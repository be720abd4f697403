using VirtShell.Tests.Models;
using VirtShell.Engine.Definitions;
using VirtShell.Scripting;
using Xunit;

namespace VirtShell.Tests.Scripting;

/// <summary>
/// The loader keeps the spec of a pure-data definition: a second load of unchanged files gives the very spec of
/// the first (no new read, so no new objects), an edit anywhere in what the definition loaded gives a fresh one.
/// With a cache directory, another loader (another process) reuses what V8 gave the first, under the same rules.
/// </summary>
public class DefinitionCacheTests
{
    private readonly JsDefinitionLoader _loader = TestDefinitions.Loader();

    private const string PureData = """
        import { machine, debugExit } from 'virtshell';
        import { memory } from './lib/sizes.js';
        export default machine({ name: 'p', model: 'emulated', memory,
          devices: [debugExit({ port: 0xf4 })] });
        """;

    [Fact]
    public void UnchangedPureDataDefinitionGivesTheSpecItGaveBefore()
    {
        using var dir = new TempFolder();
        dir.Write("lib/sizes.js", "export const memory = '1M';\n");
        string path = dir.Write("p.js", PureData);

        using var first = _loader.Load(path);
        using var second = _loader.Load(path);
        Assert.Same(first.Spec, second.Spec);
        Assert.Null(second.Hooks);
        Assert.Equal(1UL << 20, second.Spec.MemoryBytes);

        // The name given is part of what is kept: another name is another spec.
        using var renamed = _loader.Load(path, "p-2");
        Assert.Equal("p-2", renamed.Spec.Name);
        Assert.Equal("p", _loader.Load(path).Spec.Name);
        Assert.Same(renamed.Spec, _loader.Load(path, "p-2").Spec);
    }

    [Fact]
    public void EditingTheDefinitionIsSeen()
    {
        using var dir = new TempFolder();
        dir.Write("lib/sizes.js", "export const memory = '1M';\n");
        string path = dir.Write("p.js", PureData);
        var before = _loader.Load(path).Spec;

        // Same length, so neither a size check nor a coarse modification time could tell.
        dir.Write("p.js", PureData.Replace("0xf4", "0xf5"));
        var after = _loader.Load(path).Spec;
        Assert.NotSame(before, after);
        Assert.Equal(0xf5L, after.Devices[0].Settings["port"]);
    }

    [Fact]
    public void EditingAnImportedModuleIsSeen()
    {
        using var dir = new TempFolder();
        dir.Write("lib/sizes.js", "export const memory = '1M';\n");
        string path = dir.Write("p.js", PureData);
        Assert.Equal(1UL << 20, _loader.Load(path).Spec.MemoryBytes);

        dir.Write("lib/sizes.js", "export const memory = '2M';\n");
        Assert.Equal(2UL << 20, _loader.Load(path).Spec.MemoryBytes);
    }

    [Fact]
    public void BrokenEditIsReportedAndAMissingBootImageIsNotLetThrough()
    {
        using var dir = new TempFolder();
        string path = dir.Write("b.js", """
            import { machine } from 'virtshell';
            export default machine({ name: 'b', model: 'emulated', memory: '1M', boot: { image: 'guests/hello.bin' } });
            """);
        _loader.Load(path);

        File.Delete(Path.Combine(dir.Path, "guests", "hello.bin"));
        var missing = Assert.Throws<DefinitionException>(() => _loader.Load(path));
        Assert.Contains("boot image 'guests/hello.bin' does not exist", missing.Message);

        File.AppendAllText(path, "\nnull.boom;\n");
        var broken = Assert.Throws<DefinitionException>(() => _loader.Load(path));
        Assert.Contains($"{path}:3", broken.Message);
    }

    [Fact]
    public void DefinitionWithHooksIsEvaluatedAgainOnEveryLoad()
    {
        using var dir = new TempFolder();
        string path = dir.Write("h.js", """
            import { machine } from 'virtshell';
            let loads = 0;
            export default machine({ name: 'h', model: 'emulated', memory: '1M',
              hooks: { beforeBoot(vm) { vm.log(`start ${++loads}`); } } });
            """);

        using var first = _loader.Load(path);
        using var second = _loader.Load(path);
        Assert.NotSame(first.Spec, second.Spec);
        using var vm1 = new FakeMachineApi();
        using var vm2 = new FakeMachineApi();
        first.Hooks!.BeforeBoot(vm1);
        second.Hooks!.BeforeBoot(vm2);
        // Each load ran the module in its own engine: both counters start from zero.
        Assert.Equal(["start 1"], vm1.Logs);
        Assert.Equal(["start 1"], vm2.Logs);
    }

    // Math.random() runs only when V8 evaluates the module: the same name from a second loader means it did not.
    private const string RandomName = """
        import { machine, debugExit } from 'virtshell';
        import { memory } from './lib/sizes.js';
        export default machine({ name: `r${Math.floor(Math.random() * 1e12)}`, model: 'emulated', memory,
          devices: [debugExit({ port: 0xf4 })], boot: { image: 'guests/hello.bin' } });
        """;

    [Fact]
    public void AnotherLoaderWithTheSameCacheDirectoryReadsThePureDataDefinitionWithoutEvaluatingIt()
    {
        using var dir = new TempFolder();
        dir.Write("lib/sizes.js", "export const memory = '1M';\n");
        string path = dir.Write("r.js", RandomName);
        string cache = Path.Combine(dir.Path, "cache");

        var first = TestDefinitions.Loader(cacheDirectory: cache).Load(path).Spec;
        var again = TestDefinitions.Loader(cacheDirectory: cache).Load(path).Spec;
        Assert.Equal(first.Name, again.Name);
        Assert.Equal(first.Devices[0].Settings["port"], again.Devices[0].Settings["port"]);
        Assert.Equal(Path.Combine(dir.Path, "guests/hello.bin"), again.Boot!.Image);
        Assert.NotEqual(first.Name, TestDefinitions.Loader().Load(path).Spec.Name);

        // An edit to an imported file is seen by the next process too.
        dir.Write("lib/sizes.js", "export const memory = '2M';\n");
        var edited = TestDefinitions.Loader(cacheDirectory: cache).Load(path).Spec;
        Assert.Equal(2UL << 20, edited.MemoryBytes);
        Assert.NotEqual(first.Name, edited.Name);

        // What is kept is read as a fresh read is: a boot image gone since is an error naming it.
        File.Delete(Path.Combine(dir.Path, "guests", "hello.bin"));
        var missing = Assert.Throws<DefinitionException>(() => TestDefinitions.Loader(cacheDirectory: cache).Load(path));
        Assert.Contains("boot image 'guests/hello.bin' does not exist", missing.Message);
    }

    [Fact]
    public void ACacheFileThatCannotBeReadIsAMissAndADefinitionWithHooksIsNeverKept()
    {
        using var dir = new TempFolder();
        dir.Write("lib/sizes.js", "export const memory = '1M';\n");
        string path = dir.Write("r.js", RandomName);
        string cache = Path.Combine(dir.Path, "cache");
        var first = TestDefinitions.Loader(cacheDirectory: cache).Load(path).Spec;

        foreach (var file in Directory.GetFiles(cache)) File.WriteAllText(file, "{ \"version\": 1, \"path\": ");
        var reread = TestDefinitions.Loader(cacheDirectory: cache).Load(path).Spec;
        Assert.NotEqual(first.Name, reread.Name);

        string hooked = dir.Write("h.js", """
            import { machine } from 'virtshell';
            export default machine({ name: 'h', model: 'emulated', memory: '1M', hooks: { beforeBoot(vm) { } } });
            """);
        using var loaded = TestDefinitions.Loader(cacheDirectory: cache).Load(hooked);
        Assert.NotNull(loaded.Hooks);
        Assert.Single(Directory.GetFiles(cache));
    }
}
