using System.Diagnostics;
using System.Reflection;
using Microsoft.ClearScript;
using Microsoft.ClearScript.JavaScript;
using Microsoft.ClearScript.V8;
using VirtShell.Engine.Machines;
using VirtShell.Scripting.Modules;

namespace VirtShell.Scripting.Runtime;

/// <summary>
/// One definition's V8 engine and the script thread that alone may call into it. Every call has a time budget: a
/// watchdog timer interrupts a call that overruns it, and <see cref="Stop"/> interrupts it at once. The heap is
/// limited by ClearScript's heap monitor, which fails the running script instead of letting V8 abort the process.
/// Script code runs only inside these calls: ClearScript can interrupt nothing else, so guards.js takes away what
/// V8 would run from tasks of its own, and definitions are read through one snapshot (hostbridge.js) made inside a
/// call rather than by walking their objects from here.
/// </summary>
internal sealed class DefinitionEngine : IDisposable
{
    private readonly ScriptThread _thread;
    private readonly Timer _watchdog;
    private readonly object _watchGate = new();
    private V8ScriptEngine? _engine;
    private ScriptObject? _host;
    private bool _running;
    private bool _timedOut;
    private bool _stopRequested;
    private readonly List<ScriptRejectionException> _rejections = [];
    private long _deadline, _wallLimit;
    private TimeSpan _budget, _cpuAtStart;
    private ThreadCpuClock? _scriptCpu;
    private bool _heapToggle;
    private bool _disposed;

    public string DefinitionPath { get; }
    public ScriptLimits Limits { get; }
    public DefinitionSources Sources { get; } = new();

    private readonly string _moduleSource;

    private DefinitionEngine(string definitionPath, ScriptLimits limits, string moduleSource)
    {
        DefinitionPath = definitionPath;
        Limits = limits;
        _moduleSource = moduleSource;
        _watchdog = new Timer(_ => Watch());
        _thread = new ScriptThread($"script:{Path.GetFileName(definitionPath)}");
    }

    /// <summary>Starts the thread and creates the engine on it.</summary>
    /// <param name="moduleSource">The text of the 'virtshell' module (<see cref="VirtshellModule"/>).</param>
    public static DefinitionEngine Create(string definitionPath, ScriptLimits limits, string moduleSource)
    {
        var engine = new DefinitionEngine(definitionPath, limits, moduleSource);
        try
        {
            engine._thread.Invoke(engine.CreateEngine);
            return engine;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    private bool CreateEngine()
    {
        _scriptCpu = ThreadCpuClock.OfCurrentThread();
        ulong heap = Limits.HeapBytes;
        int heapMiB = (int)Math.Min(int.MaxValue, heap >> 20);
        var constraints = new V8RuntimeConstraints
        {
            // V8's own limit aborts the process; it sits well above the monitored limit and may grow on demand
            // rather than abort, so the monitor below is what a runaway script meets.
            MaxOldSpaceSize = Math.Max(128, heapMiB * 4),
            HeapExpansionMultiplier = 2,
            MaxArrayBufferAllocation = heap,
        };
        // The heap monitor keeps its default Interrupt policy: the Exception policy raises an error the hook could
        // catch, and it switches monitoring off until re-armed, so a hook could go on allocating past the limit.
        var engine = new V8ScriptEngine($"definition {Path.GetFileName(DefinitionPath)}", constraints, V8ScriptEngineFlags.None)
        {
            MaxRuntimeHeapSize = (UIntPtr)heap,
            RuntimeHeapSizeSampleInterval = TimeSpan.FromMilliseconds(10),
            MaxRuntimeStackUsage = (UIntPtr)(4 << 20),
            AllowReflection = false,
            DisableExtensionMethods = true,
        };
        try
        {
            engine.DocumentSettings.Loader = new DefinitionDocumentLoader(Path.GetDirectoryName(DefinitionPath)!, Sources);
            engine.DocumentSettings.AddSystemDocument("virtshell", ModuleCategory.Standard, _moduleSource);
            ((ScriptObject)engine.Evaluate(new DocumentInfo("virtshell:guards"), Resource("guards.js"))).Invoke(false, (double)(heap / 8));
            var bridge = (ScriptObject)engine.Evaluate(new DocumentInfo("virtshell:host"), Resource("hostbridge.js"));
            _host = (ScriptObject)bridge.Invoke(false, new Action<string, string, string>(
                (label, message, stack) => _rejections.Add(new ScriptRejectionException(label, message, stack))));
        }
        catch
        {
            engine.Dispose();
            throw;
        }
        _engine = engine;
        return true;
    }

    internal static string Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"VirtShell.Scripting.Modules.{name}")
            ?? throw new InvalidOperationException($"resource {name} is missing from the build");
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>The engine's internal helpers (hostbridge.js); use on the script thread only.</summary>
    public ScriptObject Host => _host ?? throw new ObjectDisposedException(nameof(DefinitionEngine));

    public int PendingWork => _thread.Pending;

    /// <summary>
    /// Copies <paramref name="value"/> out of V8 as plain data, the JSON that <see cref="Definitions.ScriptData.Parse"/>
    /// reads; its functions become indices for <see cref="CallFunction"/>. Script work: call it inside <see cref="RunHere"/>.
    /// </summary>
    public string Snapshot(object value) =>
        (string)Host.InvokeMethod("snapshot", value,
            Definitions.ScriptData.MaxDepth, Definitions.ScriptData.MaxArrayLength, Definitions.ScriptData.MaxValues);

    /// <summary>
    /// Calls function <paramref name="index"/> of the snapshot. A promise it returns that rejects fails the call
    /// around it (or the next one) as a <see cref="ScriptRejectionException"/> labelled <paramref name="label"/>.
    /// Script work: call it inside <see cref="RunHere"/>.
    /// </summary>
    public object CallFunction(int index, string label, params object[] args)
    {
        var all = new object[args.Length + 2];
        all[0] = index;
        all[1] = label;
        args.CopyTo(all, 2);
        return Host.InvokeMethod("call", all);
    }

    /// <summary>
    /// Throws the rejection of <paramref name="promise"/> if it has rejected by the end of this call into V8 (a
    /// module whose top-level await failed). Script work: call it inside <see cref="RunHere"/>.
    /// </summary>
    public void ThrowIfRejected(object promise, string label)
    {
        Host.InvokeMethod("watch", promise, label);
        ThrowRejection();
    }

    private void ThrowRejection()
    {
        if (_rejections.Count == 0) return;
        var first = _rejections[0];
        _rejections.Clear();
        throw first;
    }

    /// <summary>
    /// Interrupts the running call at once and fails every later one (Ctrl+C while a definition loads). The engine
    /// is still released as usual.
    /// </summary>
    public void Stop()
    {
        lock (_watchGate)
        {
            if (_stopRequested) return;
            _stopRequested = true;
            if (!_running) return;
            try { _engine?.Interrupt(); }
            catch (ObjectDisposedException) { /* released meanwhile */ }
        }
    }

    /// <summary>Runs <paramref name="work"/> on the script thread within <paramref name="budget"/>, waiting for it.</summary>
    public T Run<T>(Func<V8ScriptEngine, T> work, TimeSpan budget, bool urgent = false) =>
        _thread.Invoke(() => RunHere(work, budget), urgent);

    /// <summary>Runs <paramref name="work"/> on the script thread, waiting for it; script work inside must use <see cref="RunHere"/>.</summary>
    public T Invoke<T>(Func<T> work, bool urgent = false) => _thread.Invoke(work, urgent);

    /// <summary>Queues <paramref name="work"/> on the script thread; it must call <see cref="RunHere"/> for script work.</summary>
    public bool Post(Action work) => _thread.Post(work);

    /// <summary>Runs script work on the script thread itself, within <paramref name="budget"/>.</summary>
    public T RunHere<T>(Func<V8ScriptEngine, T> work, TimeSpan budget)
    {
        var engine = _engine ?? throw new ObjectDisposedException(nameof(DefinitionEngine));
        bool nested;
        lock (_watchGate)
        {
            if (_stopRequested) throw new ScriptStoppedException();
            nested = _running;
            if (!nested)
            {
                _running = true;
                _timedOut = false;
                long now = Stopwatch.GetTimestamp();
                _deadline = now + Ticks(budget);
                _wallLimit = now + Ticks(budget * StarvedCallLimit);
                _budget = budget;
                _cpuAtStart = _scriptCpu?.Elapsed ?? TimeSpan.Zero;
            }
        }
        if (nested) return work(engine); // runs on the budget of the call around it
        _watchdog.Change(budget, Timeout.InfiniteTimeSpan);
        try
        {
            var result = work(engine);
            ThrowRejection(); // a promise that rejected while this call ran: its error is this call's
            return result;
        }
        catch (ScriptInterruptedException) when (Stopped)
        {
            throw new ScriptStoppedException();
        }
        catch (ScriptInterruptedException) when (TimedOut)
        {
            throw new ScriptTimeoutException(budget);
        }
        catch (ScriptEngineException e) when (e.Message.Contains("exceeded its memory limit", StringComparison.Ordinal))
        {
            RearmHeapMonitor(engine);
            // A call that spins past its budget can also trip the heap monitor while the watchdog's interrupt unwinds
            // it; the budget is the limit it surely broke, so that is the one named.
            if (TimedOut) throw new ScriptTimeoutException(budget);
            throw new ScriptHeapException(Limits.HeapBytes);
        }
        finally
        {
            lock (_watchGate) _running = false;
            _watchdog.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            engine.CancelInterrupt(); // a watchdog that fired as the call ended must not hit the next one
        }
    }

    /// <summary>How many times its budget a call may take in wall time while it has not used the budget in CPU time.</summary>
    private const int StarvedCallLimit = 10;

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private bool TimedOut { get { lock (_watchGate) return _timedOut; } }

    private bool Stopped { get { lock (_watchGate) return _stopRequested; } }

    private void Watch()
    {
        lock (_watchGate)
        {
            if (!_running) return;
            try
            {
                long now = Stopwatch.GetTimestamp();
                // Timers may fire a little early; wait out the rest of the budget.
                long early = _deadline - now;
                // On a busy host the script thread gets less CPU than the time that passed. The budget is the CPU
                // time the call used, so a starved call is not cut short, up to a limit in wall time for a call
                // that waits on the host instead of running.
                if (early <= 0 && _scriptCpu != null && now < _wallLimit)
                    early = Ticks(_budget - (_scriptCpu.Elapsed - _cpuAtStart));
                if (early > 0)
                {
                    _watchdog.Change(TimeSpan.FromSeconds((double)early / Stopwatch.Frequency) + TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
                    return;
                }
                _timedOut = true;
                _engine?.Interrupt();
            }
            catch (ObjectDisposedException) { /* the call ended and the engine went with it */ }
        }
    }

    /// <summary>
    /// After a heap violation ClearScript blocks the engine until the limit is set to a new value. The garbage of the
    /// failed call is collected and the limit set again (alternating by a page) so later hooks, onExit above all,
    /// can still run.
    /// </summary>
    private void RearmHeapMonitor(V8ScriptEngine engine)
    {
        engine.CollectGarbage(true);
        _heapToggle = !_heapToggle;
        engine.MaxRuntimeHeapSize = (UIntPtr)(Limits.HeapBytes - (_heapToggle ? 4096UL : 0UL));
    }

    /// <summary>Lets queued work finish, then releases the engine on its own thread.</summary>
    public void Dispose()
    {
        lock (_watchGate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _thread.Close(() =>
        {
            _host = null;
            _engine?.Dispose();
            _engine = null;
        });
        _watchdog.Dispose();
    }
}
