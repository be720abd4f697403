using VirtShell.Containers;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Engine.Store;
using VirtShell.Models.Container;

namespace VirtShell.Tests.Containers;

/// <summary>A fact that needs real containers: skipped, with the reason, where the container model is unavailable.</summary>
public sealed class ContainerFactAttribute : FactAttribute
{
    public ContainerFactAttribute()
    {
        var availability = new ContainerModel().GetAvailability();
        if (!availability.IsAvailable) Skip = $"container model unavailable: {availability.Reason}";
    }
}

/// <summary>
/// An engine with only the container model, in a throw-away $VIRTSHELL_HOME. Definitions are given as specs
/// (the JavaScript loader is another part's); each is backed by a file, as the engine wants one.
/// </summary>
public sealed class ContainerTestHost : IDisposable
{
    private readonly SpecLoader _loader = new();

    public ContainerTestHost()
    {
        Home = Path.Combine(Path.GetTempPath(), $"virtshell-ct-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(Home);
        Model = new ContainerModel(Home);
        Engine = new VirtualizationHost(new MachineStore(Home), new ModelRegistry([Model]), _loader);
        Containers = Model.Host()!;
    }

    public string Home { get; }
    public ContainerModel Model { get; }
    public VirtualizationHost Engine { get; }
    public ContainerHost Containers { get; }

    /// <summary>A spec for a busybox container running <paramref name="args"/>, with <paramref name="container"/> entries on top.</summary>
    public MachineSpec Spec(string name, IEnumerable<string> args, Dictionary<string, object?>? container = null, ulong memory = 64UL << 20)
    {
        var section = new Dictionary<string, object?>
        {
            ["rootfs"] = new Dictionary<string, object?> { ["busybox"] = true },
            ["process"] = new Dictionary<string, object?> { ["args"] = args.Cast<object?>().ToList() },
            ["stopTimeout"] = 2L,
        };
        foreach (var (key, value) in container ?? []) section[key] = value;
        string definition = Path.Combine(Home, $"{name}.js");
        File.WriteAllText(definition, $"// {name}: built by the test as a MachineSpec\n");
        return new MachineSpec
        {
            Name = name, Model = "container", MemoryBytes = memory, DefinitionPath = definition,
            Sections = new Dictionary<string, object?> { ["container"] = section },
            Source = new SourceLocation(definition, 1),
        };
    }

    public Machine Create(MachineSpec spec)
    {
        _loader.Specs[spec.DefinitionPath!] = spec;
        return Engine.Create(spec.DefinitionPath!);
    }

    /// <summary>Starts a shell that stays up (sleep as init would ignore SIGTERM, so the shell traps it).</summary>
    public Machine StartIdle(string name, Dictionary<string, object?>? container = null, ulong memory = 64UL << 20)
    {
        var machine = Create(Spec(name, ["/bin/sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 1; done"], container, memory));
        machine.Start();
        Assert.True(WaitForConsole(machine, "ready"), $"{name} never printed 'ready': {ConsoleText(machine)}");
        return machine;
    }

    public static bool WaitForConsole(Machine machine, string text, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            if (ConsoleText(machine).Contains(text, StringComparison.Ordinal)) return true;
            Thread.Sleep(20);
        }
        return false;
    }

    public static string ConsoleText(Machine machine) =>
        File.Exists(machine.ConsoleLogPath)
            ? new StreamReader(new FileStream(machine.ConsoleLogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete)).ReadToEnd()
            : "";

    /// <summary>Runs a command in the machine: (exit code, stdout, stderr).</summary>
    public static (int Code, string Out, string Err) Exec(Machine machine, params string[] command)
    {
        var stdout = new List<string>();
        var stderr = new List<string>();
        int code = machine.Execute(new GuestCommand(command), line =>
        {
            lock (stdout) (line.IsError ? stderr : stdout).Add(line.Text);
        });
        lock (stdout) return (code, string.Join('\n', stdout), string.Join('\n', stderr));
    }

    public static MachineExit WaitForExit(Machine machine, TimeSpan? timeout = null)
    {
        Assert.True(machine.WaitFor([MachineState.Stopped, MachineState.Crashed], timeout ?? TimeSpan.FromSeconds(30)),
            $"{machine.Name} did not end; it is {machine.State}");
        return machine.LastExit!;
    }

    public void Dispose()
    {
        foreach (var machine in Engine.List())
        {
            try
            {
                if (machine.IsLocal) machine.Stop(turnOff: true, TimeSpan.FromSeconds(20));
                Engine.Remove(machine);
            }
            catch (Exception e) when (e is MachineStateException or IOException) { }
            Containers.ReleaseLeftovers(machine.Name);
        }
        try { Directory.Delete(Home, recursive: true); }
        catch (IOException) { }
    }

    private sealed class SpecLoader : IDefinitionLoader
    {
        public Dictionary<string, MachineSpec> Specs { get; } = new();

        public LoadedDefinition Load(string path, string? nameOverride = null, string? sourcePath = null) =>
            Specs.TryGetValue(sourcePath ?? path, out var spec)
                ? new LoadedDefinition(nameOverride is null ? spec : spec with { Name = nameOverride }, null)
                : throw new DefinitionException($"{path}: no spec registered for this test definition");
    }
}
