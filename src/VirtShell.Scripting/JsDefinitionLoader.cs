using Microsoft.ClearScript;
using Microsoft.ClearScript.JavaScript;
using Microsoft.ClearScript.V8;
using VirtShell.Engine.Definitions;
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
public sealed class JsDefinitionLoader(ScriptLimits? limits = null) : IDefinitionLoader
{
    private readonly ScriptLimits _limits = Checked(limits ?? new ScriptLimits());
    private readonly SpecCache _specs = new();

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

    public LoadedDefinition Load(string path, string? nameOverride = null)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new DefinitionException("no definition file was given");
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new DefinitionException($"definition file {full} does not exist");
        if (nameOverride != null) SpecReader.CheckName(nameOverride, $"{full}: machine name", null);
        if (_specs.Find(full, nameOverride) is { } known) return new LoadedDefinition(known, null);

        DefinitionEngine engine;
        try
        {
            engine = DefinitionEngine.Create(full, _limits);
        }
        catch (Exception e)
        {
            throw new DefinitionException($"{full}: the JavaScript engine (ClearScript V8) could not start: {e.GetBaseException().Message}");
        }

        try
        {
            var link = new MachineLink(engine);
            bool scripted = false;
            var (spec, functions) = engine.Run(v8 =>
            {
                var reader = new SpecReader(full, engine.Sources, fn => (string)engine.Host.InvokeMethod("sourceOf", fn));
                return reader.Read(Evaluate(v8, full), nameOverride, (descriptor, source) =>
                {
                    scripted = true;
                    return new ScriptPortDevice(link, descriptor, source);
                });
            }, _limits.LoadTimeout);

            if (functions == null && !scripted)
            {
                _specs.Add(full, nameOverride, spec, engine.Sources.Texts());
                engine.Dispose();
                return new LoadedDefinition(spec, null);
            }
            return new LoadedDefinition(spec, new ScriptHooks(link, functions));
        }
        catch (Exception e)
        {
            engine.Dispose();
            if (e is DefinitionException) throw;
            var (message, location) = ScriptErrors.Describe(e, engine.Sources);
            if (e is ScriptTimeoutException) message = $"the definition's module code {message}";
            throw location != null ? new DefinitionException(message, location) : new DefinitionException($"{full}: {message}");
        }
    }

    /// <summary>Evaluates the definition module (through the document loader, like any import) and returns its namespace.</summary>
    private static ScriptObject Evaluate(V8ScriptEngine v8, string path)
    {
        const string slot = "__virtshellDefinition";
        // A file URI escapes quotes and backslashes, so it is safe inside a JS string literal as it is.
        string specifier = $"\"{new Uri(path).AbsoluteUri}\"";
        v8.Execute(new DocumentInfo("virtshell:load") { Category = ModuleCategory.Standard },
            $"import * as definition from {specifier}; globalThis.{slot} = definition;");
        var ns = (ScriptObject)v8.Global.GetProperty(slot);
        v8.Global.DeleteProperty(slot);
        return ns;
    }
}
