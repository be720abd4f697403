using Microsoft.ClearScript;
using Microsoft.ClearScript.JavaScript;
using Microsoft.ClearScript.V8;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Store;
using VirtShell.Scripting.Definitions;
using VirtShell.Scripting.Hooks;
using VirtShell.Scripting.Modules;
using VirtShell.Scripting.Runtime;

namespace VirtShell.Scripting;

/// <summary>
/// Loads machine definitions written as JavaScript ES modules (<c>import { machine } from 'virtshell'</c>) in V8
/// through ClearScript. Each load gets its own engine on its own script thread; the engine lives on in the returned
/// hooks when the definition has hooks or script devices, and is released at once otherwise. Nothing touches V8
/// before the first <see cref="Load"/>, so constructing a loader (and importing the module) stays cheap.
/// The spec of a definition without hooks or script devices is kept (<see cref="SpecCache"/>): loading it again
/// while its files are unchanged creates no engine, which is most of what starting such a machine would cost here.
/// </summary>
/// <param name="vocabulary">The device types and model sections the models of this process offer (<c>ModelRegistry.Vocabulary</c>).</param>
/// <param name="cacheDirectory">Where the specs of pure-data definitions are kept for other processes (<see cref="MachineStore.DefinitionCacheDirectory"/>); null keeps them in this process only.</param>
public sealed class JsDefinitionLoader(DefinitionVocabulary vocabulary, ScriptLimits? limits = null, string? cacheDirectory = null) : IDefinitionLoader
{
    private readonly ScriptLimits _limits = Checked(limits ?? new ScriptLimits());
    private readonly string _moduleSource = VirtshellModule.Source(vocabulary);
    private readonly SpecCache _specs = new(cacheDirectory);
    private readonly HashSet<LoadInProgress> _loading = [];

    /// <summary>A load that a stop request can reach, from before its engine exists until the spec is read.</summary>
    private sealed class LoadInProgress
    {
        private DefinitionEngine? _engine;
        private bool _stopped;

        public void Attach(DefinitionEngine engine)
        {
            lock (this)
            {
                _engine = engine;
                if (_stopped) engine.Stop();
            }
        }

        public void Stop()
        {
            lock (this)
            {
                _stopped = true;
                _engine?.Stop();
            }
        }
    }

    private static ScriptLimits Checked(ScriptLimits limits)
    {
        if (limits.HookTimeout <= TimeSpan.Zero || limits.HookTimeout > TimeSpan.FromDays(1))
            throw new ArgumentOutOfRangeException(nameof(limits), $"HookTimeout {limits.HookTimeout} must be more than zero and at most a day");
        if (limits.LoadTimeout <= TimeSpan.Zero || limits.LoadTimeout > TimeSpan.FromDays(1))
            throw new ArgumentOutOfRangeException(nameof(limits), $"LoadTimeout {limits.LoadTimeout} must be more than zero and at most a day");
        if (limits.HeapBytes < 16UL << 20)
            throw new ArgumentOutOfRangeException(nameof(limits), $"HeapBytes {limits.HeapBytes} must be at least 16 MiB (V8 needs room to start)");
        if (limits.ConsoleQueueLength < 1)
            throw new ArgumentOutOfRangeException(nameof(limits), "ConsoleQueueLength must be at least 1");
        return limits;
    }

    public LoadedDefinition Load(string path, string? nameOverride = null, string? sourcePath = null)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new DefinitionException("no definition file was given");
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new DefinitionException($"definition file {full} does not exist");
        if (nameOverride != null) SpecReader.CheckName(nameOverride, $"{full}: machine name", null);
        var key = new SpecCache.Key(full, nameOverride, sourcePath is null ? null : Path.GetFullPath(sourcePath));
        if (_specs.Find(key) is { } known) return new LoadedDefinition(known.Spec, null, known.Files);
        if (_specs.FindStored(key) is { } stored) return ReadStored(key, stored);

        var load = new LoadInProgress();
        lock (_loading) _loading.Add(load);
        try
        {
            return Load(key, load);
        }
        finally
        {
            lock (_loading) _loading.Remove(load);
        }
    }

    private LoadedDefinition Load(SpecCache.Key key, LoadInProgress load)
    {
        var (full, nameOverride, sourcePath) = key;
        DefinitionEngine engine;
        try
        {
            engine = DefinitionEngine.Create(full, _limits, _moduleSource);
        }
        catch (Exception e)
        {
            throw new DefinitionException($"{full}: the JavaScript engine (ClearScript V8) could not start: {e.GetBaseException().Message}");
        }

        load.Attach(engine);
        try
        {
            var link = new MachineLink(engine);
            bool scripted = false;
            // Module code, getters and proxy traps run only in here, within the load budget; what comes out is data.
            string snapshot = engine.Run(v8 => engine.Snapshot(Evaluate(engine, v8, full)), _limits.LoadTimeout);
            var (spec, functions) = new SpecReader(full, engine.Sources, vocabulary.ModelSections, sourcePath).Read(ScriptData.Parse(snapshot), nameOverride, (functions, source) =>
            {
                scripted = true;
                return new ScriptDevice(link, functions, source);
            });

            if (functions == null && !scripted)
            {
                _specs.Add(key, spec, snapshot, engine.Sources.Texts());
                engine.Dispose();
                return new LoadedDefinition(spec, null, engine.Sources.Files);
            }
            return new LoadedDefinition(spec, new ScriptHooks(link, functions), engine.Sources.Files);
        }
        catch (Exception e)
        {
            engine.Dispose();
            if (e is DefinitionException) throw;
            var (message, location) = ScriptErrors.Describe(e, engine.Sources);
            if (e is ScriptTimeoutException or ScriptStoppedException) message = $"the definition's module code {message}";
            throw location != null ? new DefinitionException(message, location) : new DefinitionException($"{full}: {message}");
        }
    }

    /// <summary>
    /// Reads a snapshot another process kept (<see cref="SpecCache.FindStored"/>) as a fresh read would, without V8:
    /// only pure-data definitions are kept, so nothing in it calls for a script engine.
    /// </summary>
    private LoadedDefinition ReadStored(SpecCache.Key key, SpecCache.Stored stored)
    {
        var (spec, _) = new SpecReader(key.Path, new DefinitionSources(stored.Texts), vocabulary.ModelSections, key.Source).Read(ScriptData.Parse(stored.Snapshot), key.Name,
            (_, at) => throw new DefinitionException("a kept definition has a script device; it should have been read by V8", at));
        _specs.Remember(key, spec, stored.Texts);
        return new LoadedDefinition(spec, null, stored.Texts.Keys.ToArray());
    }

    /// <summary>Stops every load in progress at once (Ctrl+C): each fails with an error saying it was stopped.</summary>
    public void InterruptLoads()
    {
        lock (_loading)
            foreach (var load in _loading) load.Stop();
    }

    /// <summary>
    /// Evaluates the definition module (through the document loader, like any import) and returns its default
    /// export, still a live script value.
    /// </summary>
    private static object Evaluate(DefinitionEngine engine, V8ScriptEngine v8, string path)
    {
        const string slot = "__virtshellDefinition";
        // A file URI escapes quotes and backslashes, so it is safe inside a JS string literal as it is.
        string specifier = $"\"{new Uri(path).AbsoluteUri}\"";
        // With a top-level await the result is the promise of the module's evaluation.
        var evaluation = v8.Evaluate(new DocumentInfo("virtshell:load") { Category = ModuleCategory.Standard },
            $"import * as definition from {specifier}; globalThis.{slot} = definition;");
        if (v8.Global.GetProperty(slot) is not ScriptObject ns)
        {
            engine.ThrowIfRejected(evaluation, "module");
            // Nothing can settle a promise once the module code has returned (there are no timers or I/O), so a
            // module still waiting on a top-level await never finishes.
            throw new DefinitionException($"{path}: the definition's module code never finished: a top-level await waits on a promise that nothing will settle");
        }
        v8.Global.DeleteProperty(slot);
        return ns.GetProperty("default");
    }
}
