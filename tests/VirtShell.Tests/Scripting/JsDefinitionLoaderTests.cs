using VirtShell.Tests.Models;
using System.Diagnostics;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Scripting;
using Xunit;
using Xunit.Abstractions;

namespace VirtShell.Tests.Scripting;

public class JsDefinitionLoaderTests(ITestOutputHelper output)
{
    private readonly JsDefinitionLoader _loader = TestDefinitions.Loader();

    [Fact]
    public void GoodDefinitionBecomesSpecWithSourcesAndResolvedPaths()
    {
        string path = Fixtures.Get("hello.js");
        using var loaded = _loader.Load(path);
        var spec = loaded.Spec;

        Assert.Equal("hello", spec.Name);
        Assert.Equal("emulated", spec.Model);
        Assert.Equal(1UL << 20, spec.MemoryBytes);
        Assert.Equal(path, spec.DefinitionPath);
        Assert.Equal(new SourceLocation(path, 3, 16), spec.Source);

        Assert.Equal(["uart16550", "debugExit", "disk"], spec.Devices.Select(d => d.Type));
        Assert.Equal([8, 9, 10], spec.Devices.Select(d => d.Source!.Line));
        Assert.All(spec.Devices, d => Assert.Equal(path, d.Source!.File));

        var uart = spec.Devices[0];
        Assert.Equal(0x3f8L, uart.Settings["port"]);
        Assert.Equal(4L, uart.Settings["irq"]);
        Assert.Equal(true, uart.Settings["console"]);
        Assert.False(uart.Settings.ContainsKey("type"));
        Assert.False(uart.Settings.ContainsKey("__source"));
        Assert.Null(uart.Implementation);

        var disk = spec.Devices[2];
        string image = Path.Combine(Fixtures.Dir, "guests", "hello.bin");
        Assert.Equal(image, disk.Settings["image"]);
        Assert.Equal(new List<object?> { 2L, 4.5, "x" }, disk.Settings["geometry"]);
        Assert.Equal(new Dictionary<string, object?> { ["cache"] = false }, disk.Settings["options"]);

        var boot = spec.Boot!;
        Assert.Equal(image, boot.Image);
        Assert.Equal(0x7c00UL, boot.LoadAddress);
        Assert.Equal(BootKind.Flat, boot.Kind);
        Assert.Equal(CpuStartMode.Real, boot.Mode);
        Assert.Null(boot.Entry);
        Assert.Equal(12, boot.Source!.Line);
        Assert.NotNull(loaded.Hooks);
    }

    [Fact]
    public void NameOverrideReplacesTheName()
    {
        using var loaded = _loader.Load(Fixtures.Get("hello.js"), "hello-2");
        Assert.Equal("hello-2", loaded.Spec.Name);
    }

    [Fact]
    public void BadNameOverrideIsRefused()
    {
        var e = Assert.Throws<DefinitionException>(() => _loader.Load(Fixtures.Get("hello.js"), "a/b"));
        Assert.Contains("machine name 'a/b' is not valid", e.Message);
    }

    [Fact]
    public void LocalImportsWorkAndDevicesPointAtTheFileThatMadeThem()
    {
        using var loaded = _loader.Load(Fixtures.Get("imports.mjs"));
        Assert.Equal(2UL << 20, loaded.Spec.MemoryBytes);
        Assert.Equal(new SourceLocation(Fixtures.Get("lib/serial.js"), 6, 10), loaded.Spec.Devices[0].Source);
        Assert.Equal(new SourceLocation(Fixtures.Get("imports.mjs"), 8, 25), loaded.Spec.Devices[1].Source);
        Assert.Null(loaded.Hooks); // no hooks and no script device: the engine is already released
    }

    [Fact]
    public void DeviceLinesSurviveADefinitionThatTurnsStackTracesOff()
    {
        using var dir = new TempFolder();
        string path = dir.Write("nostack.js", """
            import { machine, debugExit } from 'virtshell';
            Error.stackTraceLimit = 0;
            export default machine({ name: 'n', model: 'emulated', memory: '1M',
              devices: [debugExit({ port: 0xf4 })] });
            """);
        using var loaded = _loader.Load(path);
        Assert.Equal(4, loaded.Spec.Devices[0].Source!.Line);
        Assert.Equal(3, loaded.Spec.Source!.Line);
    }

    [Fact]
    public void PathsWithSpacesAndQuotesKeepTheirLines()
    {
        using var dir = new TempFolder();
        string path = dir.Write("my 'odd' defs/def.js", """
            import { machine, debugExit } from 'virtshell';
            export default machine({ name: 'n', model: 'emulated', memory: '1M',
              devices: [debugExit({ port: 0xf4 })] });
            """);
        using (var loaded = _loader.Load(path))
            Assert.Equal(new SourceLocation(path, 3, 13), loaded.Spec.Devices[0].Source);

        File.AppendAllText(path, "\nnull.boom;\n");
        var e = Assert.Throws<DefinitionException>(() => _loader.Load(path));
        Assert.Contains($"{path}:4", e.Message);
    }

    [Fact]
    public void TypeAndBootFieldsAreRead()
    {
        using var dir = new TempFolder();
        string path = dir.Write("boot.js", """
            import { machine } from 'virtshell';
            export default machine({ name: 'b', model: 'hardware', memory: 0x200000,
              boot: { image: 'guests/hello.bin', type: 'bootSector', load: 0x10000, entry: 0x10010, mode: 'protected' } });
            """);
        using var loaded = _loader.Load(path);
        var boot = loaded.Spec.Boot!;
        Assert.Equal(BootKind.BootSector, boot.Kind);
        Assert.Equal(0x10000UL, boot.LoadAddress);
        Assert.Equal(0x10010UL, boot.Entry);
        Assert.Equal(CpuStartMode.Protected, boot.Mode);
        Assert.Equal(0x200000UL, loaded.Spec.MemoryBytes);
    }

    [Fact]
    public void ConsoleLimitsComeFromTheConsoleSectionWithDefaultsForTheRest()
    {
        using var dir = new TempFolder();
        string path = dir.Write("c.js", "import { machine } from 'virtshell';\nexport default machine({ name: 'c', model: 'emulated', memory: '1M', console: { maxSize: '64K', maxFiles: 2, rate: 1000 } });\n");
        using var loaded = _loader.Load(path);
        Assert.Equal(new ConsoleLimits { MaxSize = 64 << 10, MaxFiles = 2, Rate = 1000, Burst = 1000 }, loaded.Spec.Console);
        string plain = dir.Write("d.js", "import { machine } from 'virtshell';\nexport default machine({ name: 'd', model: 'emulated', memory: '1M' });\n");
        using var defaults = _loader.Load(plain);
        Assert.Equal(ConsoleLimits.Default, defaults.Spec.Console);
    }

    [Theory]
    [InlineData("'640K'", 640UL << 10)]
    [InlineData("'1M'", 1UL << 20)]
    [InlineData("'2G'", 2UL << 30)]
    [InlineData("'16 MiB'", 16UL << 20)]
    [InlineData("4096", 4096UL)]
    public void MemorySizes(string memory, ulong bytes)
    {
        using var dir = new TempFolder();
        string path = dir.Write("m.js", $"import {{ machine }} from 'virtshell';\nexport default machine({{ name: 'm', model: 'emulated', memory: {memory} }});\n");
        using var loaded = _loader.Load(path);
        Assert.Equal(bytes, loaded.Spec.MemoryBytes);
    }

    private const string Head = "import { machine, uart16550, scriptDevice, device } from 'virtshell';\n";

    [Theory]
    // Each body follows Head (line 1); the expected line is where the fault is.
    [InlineData("export default machine({\n  name: 'x' model: 'emulated',\n});\n", 3, "SyntaxError")]
    [InlineData("const x = null;\nexport default machine({ name: x.name });\n", 3, "TypeError")]
    [InlineData("export default machine({ name: 'x', model: 'emulated', memory: '1M', devices: [uart16550(7)] });\n", 2, "uart16550(...) takes an object")]
    [InlineData("const y = 1;\nexport default { name: 'x' };\n", 3, "not made by machine(")]
    [InlineData("export default machine({\n  model: 'emulated',\n  memory: '1M',\n});\n", 2, "needs a 'name'")]
    [InlineData("export default machine({\n  name: 'a b',\n  model: 'emulated',\n  memory: '1M',\n});\n", 3, "name 'a b' is not valid")]
    [InlineData("export default machine({\n  name: 'x',\n  memory: '1M',\n});\n", 2, "needs a 'model'")]
    [InlineData("export default machine({\n  name: 'x',\n  model: 5,\n  memory: '1M',\n});\n", 4, "'model' must be a non-empty string")]
    [InlineData("export default machine({\n  name: 'x',\n  model: 'emulated',\n  memory: '12Q',\n});\n", 5, "'12Q' is not a size")]
    [InlineData("export default machine({\n  name: 'x',\n  model: 'emulated',\n  memory: -4096,\n});\n", 5, "must be positive")]
    [InlineData("export default machine({\n  name: 'x',\n  model: 'emulated',\n  memory: 1000,\n});\n", 5, "multiple of 4 KiB")]
    [InlineData("export default machine({\n  name: 'x',\n  model: 'emulated',\n});\n", 2, "memory is required")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  cpus: 2,\n});\n", 4, "no field 'cpus'")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  boot: { image: './guests/missing.bin' },\n});\n", 4, "missing.bin")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  boot: {\n    image: './guests/hello.bin',\n    type: 'floppy',\n  },\n});\n", 6, "boot type 'floppy'")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  boot: {\n    image: './guests/hello.bin',\n    mode: 'unreal',\n  },\n});\n", 6, "boot mode 'unreal'")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  boot: {\n    image: './guests/hello.bin',\n    load: -1,\n  },\n});\n", 6, "'load' must be an address")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  boot: { image: './guests/hello.bin', laod: 0 },\n});\n", 4, "no field 'laod'")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  boot: { load: 0 },\n});\n", 4, "needs an 'image'")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  devices: uart16550({}),\n});\n", 4, "'devices' must be an array")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  devices: [\n    42,\n  ],\n});\n", 4, "devices[0] is not a device")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  devices: [\n    device('rtc', { tick() {} }),\n  ],\n});\n", 5, "is a function")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  devices: [\n    scriptDevice({ ports: [1], read: 3 }),\n  ],\n});\n", 5, "'read' must be a function")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  hooks: {\n    beforeboot(vm) {},\n  },\n});\n", 5, "no hook 'beforeboot'")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  hooks: {\n    onExit: 'later',\n  },\n});\n", 5, "must be a function")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  console: { maxSize: '1X' },\n});\n", 4, "console maxSize '1X' is not a size")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  console: { maxSize: 100 },\n});\n", 4, "console maxSize must be at least 4096")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  console: { maxFiles: 0 },\n});\n", 4, "maxFiles must be an integer from 1 to 100")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  console: { maxsize: '1M' },\n});\n", 4, "console has no field 'maxsize'")]
    [InlineData("export default machine({\n  name: 'x', model: 'emulated', memory: '1M',\n  console: '10M',\n});\n", 4, "'console' must be an object")]
    [InlineData("import { helper } from '../outside.js';\nexport default machine({});\n", 2, "outside the definition's folder")]
    [InlineData("\nimport { helper } from './nowhere.js';\nexport default machine({});\n", 3, "does not exist")]
    public void BadDefinitionNamesFileAndLine(string body, int line, string expected)
    {
        using var dir = new TempFolder();
        string path = dir.Write("bad.js", Head + body);
        var e = Assert.Throws<DefinitionException>(() => TestDefinitions.Loader(new ScriptLimits { LoadTimeout = TimeSpan.FromMilliseconds(300) }).Load(path));
        output.WriteLine(e.Message);
        Assert.Contains($"{path}:{line}", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Equal(path, e.Location?.File);
        Assert.DoesNotContain("ClearScript", e.Message);
        Assert.DoesNotContain("   at ", e.Message);
    }

    [Fact]
    public void KernelBootFieldsResolveAgainstTheDefinition()
    {
        using var dir = new TempFolder();
        dir.Write("guests/initrd.img", "initrd");
        dir.Write("guests/mod.bin", "module");
        string path = dir.Write("linux.js", Head + "export default machine({\n  name: 'k', model: 'hardware', memory: '64M',\n" +
            "  boot: { type: 'linux', image: './guests/hello.bin', cmdline: 'console=ttyS0', initrd: './guests/initrd.img' },\n});\n");
        var boot = _loader.Load(path).Spec.Boot!;
        Assert.Equal((BootKind.Linux, CpuStartMode.Protected, "console=ttyS0"), (boot.Kind, boot.Mode, boot.CommandLine));
        Assert.Equal(Path.Combine(dir.Path, "guests", "initrd.img"), boot.Initrd);

        path = dir.Write("mb.js", Head + "export default machine({\n  name: 'm', model: 'emulated', memory: '4M',\n" +
            "  boot: { type: 'multiboot', image: './guests/hello.bin', modules: ['./guests/mod.bin', { path: './guests/mod.bin', cmdline: 'x' }] },\n});\n");
        boot = _loader.Load(path).Spec.Boot!;
        Assert.Equal(BootKind.Multiboot, boot.Kind);
        Assert.Equal([null, "x"], boot.Modules.Select(m => m.CommandLine));
        Assert.All(boot.Modules, m => Assert.Equal(Path.Combine(dir.Path, "guests", "mod.bin"), m.Path));

        path = dir.Write("bad.js", Head + "export default machine({\n  name: 'k', model: 'hardware', memory: '64M',\n" +
            "  boot: { type: 'linux', image: './guests/hello.bin', initrd: './guests/none.img' },\n});\n");
        var e = Assert.Throws<DefinitionException>(() => _loader.Load(path));
        Assert.Contains($"{path}:4", e.Message);
        Assert.Contains("initrd './guests/none.img' does not exist", e.Message);
    }

    [Fact]
    public void AModelSectionReachesTheSpecAsPlainValues()
    {
        using var dir = new TempFolder();
        string path = dir.Write("c1.js", Head + "export default machine({\n  name: 'c1', model: 'container', memory: '64M',\n" +
            "  container: { rootfs: './rootfs', process: { args: ['/bin/sh', '-c', 'echo hi'], uid: 1000 } },\n});\n");
        using var loaded = _loader.Load(path);
        var container = Assert.IsType<Dictionary<string, object?>>(loaded.Spec.Sections["container"]);
        Assert.Equal("./rootfs", container["rootfs"]);
        var process = Assert.IsType<Dictionary<string, object?>>(container["process"]);
        Assert.Equal(new List<object?> { "/bin/sh", "-c", "echo hi" }, process["args"]);
        Assert.Equal(1000L, process["uid"]);
    }

    [Fact]
    public void RunawayModuleCodeIsInterrupted()
    {
        using var dir = new TempFolder();
        string path = dir.Write("loop.js", "import { machine } from 'virtshell';\nfor (;;) {}\n");
        var e = Assert.Throws<DefinitionException>(() => TestDefinitions.Loader(new ScriptLimits { LoadTimeout = TimeSpan.FromMilliseconds(300) }).Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("did not finish within 0.3 s", e.Message);
    }

    [Fact]
    public void UnknownVirtshellImportNamesTheImportLine()
    {
        using var dir = new TempFolder();
        string path = dir.Write("imp.js", "// a device the module does not have\nimport { machine, nosuchDevice } from 'virtshell';\nexport default machine({});\n");
        var e = Assert.Throws<DefinitionException>(() => _loader.Load(path));
        Assert.Contains($"{path}:2", e.Message);
        Assert.Contains("nosuchDevice", e.Message);
    }

    [Fact]
    public void MissingDefaultExportNamesTheFile()
    {
        using var dir = new TempFolder();
        string path = dir.Write("none.js", "import { machine } from 'virtshell';\nexport const m = machine({ name: 'x' });\n");
        var e = Assert.Throws<DefinitionException>(() => _loader.Load(path));
        Assert.Contains($"{path}:1", e.Message);
        Assert.Contains("no default export", e.Message);
    }

    [Fact]
    public void ErrorInAnImportedFileNamesThatFile()
    {
        using var dir = new TempFolder();
        string lib = dir.Write("lib.js", "export const size = '1M';\nthrow new RangeError('lib is broken');\n");
        string path = dir.Write("main.js", "import { machine } from 'virtshell';\nimport { size } from './lib.js';\nexport default machine({ name: 'x', model: 'emulated', memory: size });\n");
        var e = Assert.Throws<DefinitionException>(() => _loader.Load(path));
        Assert.Contains($"{lib}:2", e.Message);
        Assert.Contains("lib is broken", e.Message);
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), "no-such-definition.js");
        var e = Assert.Throws<DefinitionException>(() => _loader.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void ScriptDeviceBecomesAnImplementationWithPorts()
    {
        using var loaded = _loader.Load(Fixtures.Get("hooks.js"));
        var device = Assert.Single(loaded.Spec.Devices);
        Assert.Equal("scriptDevice", device.Type);
        Assert.Equal(new List<object?> { 0x510L, 0x511L }, device.Settings["ports"]);
        Assert.False(device.Settings.ContainsKey("read"));
        Assert.NotNull(device.Implementation);
        Assert.Equal(new SourceLocation(Fixtures.Get("hooks.js"), 10, 5), device.Source);
    }

    [Fact]
    public void SmallestHeapStillLoadsAndBadLimitsAreRefused()
    {
        using (var loaded = TestDefinitions.Loader(new ScriptLimits { HeapBytes = 16UL << 20 }).Load(Fixtures.Get("hello.js")))
            Assert.Equal("hello", loaded.Spec.Name);
        Assert.Throws<ArgumentOutOfRangeException>(() => TestDefinitions.Loader(new ScriptLimits { HookTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => TestDefinitions.Loader(new ScriptLimits { HeapBytes = 1 << 20 }));
    }

    [Fact]
    public void LoadsRunInParallel()
    {
        var names = new string[8];
        Parallel.For(0, names.Length, i =>
        {
            using var loaded = _loader.Load(Fixtures.Get("hello.js"), $"m{i}");
            names[i] = loaded.Spec.Name;
        });
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"m{i}"), names);
    }

    [Fact]
    public void LoadIsQuick()
    {
        var first = Stopwatch.StartNew();
        _loader.Load(Fixtures.Get("hello.js")).Dispose();
        first.Stop();
        var times = new List<double>();
        for (int i = 0; i < 10; i++)
        {
            var sw = Stopwatch.StartNew();
            _loader.Load(Fixtures.Get("hello.js")).Dispose();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        output.WriteLine($"Load: first {first.Elapsed.TotalMilliseconds:0.0} ms, then median {times[5]:0.0} ms (min {times[0]:0.0}, max {times[^1]:0.0})");
        Assert.True(times[5] < 500, $"median load took {times[5]} ms");
    }
}
