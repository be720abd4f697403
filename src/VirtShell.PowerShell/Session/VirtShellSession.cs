using System.Collections.Concurrent;
using VirtShell.Control;
using VirtShell.Engine.Console;
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
            return new VirtualizationHost(Store, models, new VirtShell.Scripting.JsDefinitionLoader(models.Vocabulary, cacheDirectory: Store.DefinitionCacheDirectory));
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

    /// <summary>
    /// One call on a machine's engine API: to its host process while a run is under way, otherwise to the machine's
    /// record here (a machine at rest answers from it: its state, its console.log, a state error). A host that has
    /// just ended is seen as such: the record is read again and answers instead.
    /// </summary>
    public T Call<T>(Machine machine, Func<IMachineControl, Task<T>> call)
    {
        using var client = Connect(ref machine);
        if (client is null) return call(new MachineControl(machine)).GetAwaiter().GetResult();
        try
        {
            return call(client).GetAwaiter().GetResult();
        }
        catch (MachineStateException) when (client.HostEnded && Host.Find(machine.Name) is { } now && !now.State.IsLive())
        {
            // The run ended during the call: answered from the record, as a host already gone is.
            return call(new MachineControl(now)).GetAwaiter().GetResult();
        }
    }

    /// <inheritdoc cref="Call{T}"/>
    public void Call(Machine machine, Func<IMachineControl, Task> call) =>
        Call(machine, async control => { await call(control).ConfigureAwait(false); return true; });

    /// <summary>A connection to the machine's host process; null when the machine is (now) at rest.</summary>
    public MachineClient? Connect(ref Machine machine)
    {
        if (!machine.State.IsLive()) return null;
        try
        {
            return MachineClient.Connect(machine.Name, HostProcess.SocketPath(Store, machine.Name));
        }
        catch (MachineStateException) when (Host.Find(machine.Name) is { } now && !now.State.IsLive())
        {
            machine = now;
            return null;
        }
    }

    /// <summary>Starts a host process for the machine, which starts it; returns once it runs.</summary>
    public void Start(Machine machine, CancellationToken cancel) => HostProcess.Launch(Store, machine.Name, cancel);

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
