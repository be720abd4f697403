using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;

namespace VirtShell.Fuzz;

/// <summary>
/// The input is a definition's JavaScript source, checked as Test-VirtDefinition checks it: loaded in V8, read into
/// a spec and validated by its model. A <see cref="DefinitionException"/> is the normal answer to a bad definition.
/// The definition sits in a scratch folder beside a small boot image and disk image (guest.bin, disk.img) so that
/// inputs naming them get past the file checks into the models' own validation.
/// </summary>
internal sealed class DefinitionTarget : IFuzzTarget
{
    // Small budgets keep a runaway definition cheap; the loader's checks on them are part of what is fuzzed.
    private static readonly ScriptLimits Limits = new() { LoadTimeout = TimeSpan.FromMilliseconds(250), HookTimeout = TimeSpan.FromMilliseconds(100), HeapBytes = 16UL << 20 };

    private readonly string _folder = FuzzTargets.ScratchFolder("definition");
    private readonly MachineStore _store;
    private readonly ModelRegistry _models;
    private readonly string _definition;

    public DefinitionTarget()
    {
        _store = new MachineStore(Path.Combine(_folder, "home"));
        _models = ModelCatalog.CreateRegistry(_store.Home);
        var image = new byte[512];
        Array.Fill(image, (byte)0xF4); // HLT
        image[510] = 0x55;
        image[511] = 0xAA;
        File.WriteAllBytes(Path.Combine(_folder, "guest.bin"), image);
        File.WriteAllBytes(Path.Combine(_folder, "disk.img"), new byte[64 * 512]);
        _definition = Path.Combine(_folder, "definition.js");
    }

    public string Name => "definition";

    public string Run(ReadOnlySpan<byte> input)
    {
        File.WriteAllBytes(_definition, input.ToArray());
        // A fresh loader each time: the spec cache must not answer for an input seen before.
        var host = new VirtualizationHost(_store, _models, new JsDefinitionLoader(_models.Vocabulary, Limits));
        try
        {
            return $"valid: {host.Validate(_definition).Model} machine";
        }
        catch (DefinitionException e)
        {
            return $"definition error: {e.Message}";
        }
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
