using System.Collections.Concurrent;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;

namespace VirtShell.PowerShell.Session;

/// <summary>
/// The engine as this PowerShell process sees it: one <see cref="VirtualizationHost"/> per machine home, made on
/// first use (never at Import-Module, which must stay fast), and the console read cursors of this session.
/// The home is $VIRTSHELL_HOME at the time of each call, so a script (or a Pester file) that points it elsewhere
/// gets that store; switching back returns the same host and the machines it runs.
/// </summary>
internal sealed class VirtShellSession
{
    private static readonly ConcurrentDictionary<string, Lazy<VirtShellSession>> Sessions = new(StringComparer.Ordinal);

    private readonly Lazy<VirtualizationHost> _host;
    private readonly ConcurrentDictionary<ConsoleCursorKey, ConsoleCursor> _cursors = new();

    private VirtShellSession(string home)
    {
        Store = new MachineStore(home);
        _host = new Lazy<VirtualizationHost>(() =>
        {
            var models = VirtShell.Models.ModelCatalog.CreateRegistry(Store.Home);
            return new VirtualizationHost(Store, models, new VirtShell.Scripting.JsDefinitionLoader(models.Vocabulary));
        });
    }

    public static VirtShellSession Current
    {
        get
        {
            string home = Path.GetFullPath(MachineStore.DefaultHome());
            return Sessions.GetOrAdd(home, h => new Lazy<VirtShellSession>(() => new VirtShellSession(h))).Value;
        }
    }

    /// <summary>The store alone, for tab completion: cheaper than the host (no models, no script engine).</summary>
    public MachineStore Store { get; }

    public VirtualizationHost Host => _host.Value;

    /// <summary>Where this session stopped reading a machine's console (the start when it never read it).</summary>
    public ConsoleCursor GetCursor(Machine machine) => _cursors.GetValueOrDefault(ConsoleCursorKey.For(machine));

    public void SetCursor(Machine machine, ConsoleCursor cursor) => _cursors[ConsoleCursorKey.For(machine)] = cursor;

    public void ForgetCursor(Machine machine) => _cursors.TryRemove(ConsoleCursorKey.For(machine), out _);

    /// <summary>The creation time tells a machine from a later one of the same name, whose console starts afresh.</summary>
    private readonly record struct ConsoleCursorKey(string Name, DateTimeOffset CreatedAt)
    {
        public static ConsoleCursorKey For(Machine machine) => new(machine.Name, machine.CreatedAt);
    }
}

/// <summary>A console read position: the byte offset, and whether it is inside a line already partly returned.</summary>
internal readonly record struct ConsoleCursor(long Offset, bool MidLine);
