using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Completion;

/// <summary>Completes machine names from the store (a folder listing: no engine, no script engine).</summary>
public sealed class MachineNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        NameCompletion.Complete(VirtShellSession.Current.Store.Names(), wordToComplete);
}

/// <summary>Completes model names.</summary>
public sealed class ModelNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
        NameCompletion.Complete(VirtShellSession.Current.Host.Models.All.Select(m => m.Name), wordToComplete);
}

internal static class NameCompletion
{
    public static IEnumerable<CompletionResult> Complete(IEnumerable<string> names, string wordToComplete)
    {
        string typed = wordToComplete.Trim('\'', '"');
        var pattern = new WildcardPattern(typed + "*", WildcardOptions.IgnoreCase);
        // Machine and model names are letters, digits, '.', '_' and '-': never in need of quotes.
        return names.Where(pattern.IsMatch).Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));
    }
}
