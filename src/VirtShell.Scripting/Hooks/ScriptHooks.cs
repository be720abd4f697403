using System.Diagnostics;
using Microsoft.ClearScript;
using VirtShell.Engine.Machines;
using VirtShell.Scripting.Definitions;
using VirtShell.Scripting.Runtime;

namespace VirtShell.Scripting.Hooks;

/// <summary>
/// The hooks of a JavaScript definition. Every call runs on the definition's script thread within the hook budget:
/// beforeBoot and onExit make the caller wait, onConsoleLine is queued so the guest never waits (lines run in order,
/// and onExit runs after the lines queued before it). Disposing releases the engine.
/// </summary>
internal sealed class ScriptHooks(MachineLink link, IReadOnlyDictionary<string, ScriptFunction>? functions) : IMachineHooks
{
    /// <summary>How long lines queued before the exit may keep onExit (and so the machine's stop) waiting.</summary>
    private static readonly TimeSpan ExitDrain = TimeSpan.FromSeconds(2);

    private readonly object _lock = new();
    private IMachineApi? _facadeOwner;
    private ScriptObject? _facade;
    private volatile bool _consoleFailed;
    private long _droppedLines;
    private long _skipLinesAfter = long.MaxValue; // a Stopwatch timestamp, set when the machine exits
    private long _skippedLines;

    public void BeforeBoot(IMachineApi vm)
    {
        link.Api = vm;
        if (Has("beforeBoot")) Call("beforeBoot", vm);
    }

    public void OnConsoleLine(IMachineApi vm, string line)
    {
        if (!Has("onConsoleLine") || _consoleFailed) return;
        if (link.Engine.PendingWork >= link.Engine.Limits.ConsoleQueueLength)
        {
            // The guest must never wait for a hook; a hook slower than the guest loses lines, and says so once.
            if (Interlocked.Increment(ref _droppedLines) == 1)
                vm.Log($"onConsoleLine cannot keep up with the guest; console lines are being dropped (queue of {link.Engine.Limits.ConsoleQueueLength})");
            return;
        }
        link.Engine.Post(() =>
        {
            if (_consoleFailed) return;
            if (Stopwatch.GetTimestamp() > Interlocked.Read(ref _skipLinesAfter))
            {
                Interlocked.Increment(ref _skippedLines);
                return;
            }
            try
            {
                CallHere("onConsoleLine", vm, line);
            }
            catch (HookException e)
            {
                _consoleFailed = true;
                vm.Fail(e.Message);
            }
        });
    }

    public void OnExit(IMachineApi vm, MachineExit exit)
    {
        // Lines still queued get a short while to reach onConsoleLine; a slow hook must not hold up the stop.
        Interlocked.Exchange(ref _skipLinesAfter, Stopwatch.GetTimestamp() + (long)(ExitDrain.TotalSeconds * Stopwatch.Frequency));
        if (!Has("onExit")) return;
        Call("onExit", vm, exit);
        if (Interlocked.Read(ref _skippedLines) is > 0 and var skipped)
            vm.Log($"{skipped} console lines queued at exit did not reach onConsoleLine within {ExitDrain.TotalSeconds:0} s");
    }

    private bool Has(string hook) => functions?.ContainsKey(hook) == true;

    private void Call(string hook, IMachineApi vm, params object[] args)
    {
        try
        {
            link.Engine.Invoke(() => { CallHere(hook, vm, args); return true; });
        }
        catch (ObjectDisposedException)
        {
            throw new HookException($"hook {hook} ({functions![hook].At}) cannot run: the definition's script engine has been released");
        }
    }

    /// <summary>Runs a hook on the script thread (the caller is there) and turns any failure into HookException.</summary>
    private void CallHere(string hook, IMachineApi vm, params object[] args)
    {
        var function = functions![hook];
        try
        {
            link.Engine.RunHere(_ =>
            {
                var scriptArgs = new object[args.Length + 1];
                scriptArgs[0] = FacadeFor(vm);
                for (int i = 0; i < args.Length; i++)
                    scriptArgs[i + 1] = args[i] is MachineExit exit ? ExitObject(exit) : args[i];
                return link.Engine.CallFunction(function.Index, hook, scriptArgs);
            }, link.Budget);
        }
        catch (Exception e)
        {
            var (message, location) = ScriptErrors.Describe(e, link.Engine.Sources);
            // An async hook's rejection may come while another hook runs (a promise that hook settled).
            string failed = e is ScriptRejectionException r && functions.TryGetValue(r.Label, out var other) ? r.Label : hook;
            throw e is ScriptTimeoutException or ScriptHeapException
                ? new HookException($"hook {hook} ({function.At}) {message}")
                : new HookException($"hook {failed} failed at {location ?? functions[failed].At}: {message}");
        }
    }

    private ScriptObject FacadeFor(IMachineApi vm)
    {
        lock (_lock)
        {
            if (_facade == null || !ReferenceEquals(_facadeOwner, vm))
            {
                _facade = (ScriptObject)link.Engine.Host.InvokeMethod("vm", new MachineBridge(vm));
                _facadeOwner = vm;
            }
            return _facade;
        }
    }

    private object ExitObject(MachineExit exit) =>
        link.Engine.Host.InvokeMethod("exit", exit.Reason.ToString(), exit.Status is int s ? s : null!, exit.Detail!);

    public void Dispose() => link.Engine.Dispose();
}
