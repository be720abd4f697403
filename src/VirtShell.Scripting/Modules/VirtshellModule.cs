using System.Text;
using System.Text.RegularExpressions;
using VirtShell.Engine.Definitions;
using VirtShell.Scripting.Runtime;

namespace VirtShell.Scripting.Modules;

/// <summary>
/// The text of the 'virtshell' module every definition imports: virtshell.js, and a constructor for each device type
/// the models offer (<c>uart16550(settings)</c> is <c>device('uart16550', settings)</c>), so that no device is named
/// here or in the script.
/// </summary>
internal static partial class VirtshellModule
{
    [GeneratedRegex("^[A-Za-z_$][A-Za-z0-9_$]*$")]
    private static partial Regex Identifier();

    public static string Source(DefinitionVocabulary vocabulary)
    {
        string module = DefinitionEngine.Resource("virtshell.js");
        var text = new StringBuilder(module);
        foreach (var type in vocabulary.DeviceTypes)
        {
            if (!Identifier().IsMatch(type) || module.Contains($"export function {type}(", StringComparison.Ordinal))
                throw new ArgumentException($"device type '{type}' cannot be a constructor of the 'virtshell' module", nameof(vocabulary));
            text.Append($"\nexport function {type}(settings) {{\n  return device('{type}', settings);\n}}\n");
        }
        return text.ToString();
    }
}
