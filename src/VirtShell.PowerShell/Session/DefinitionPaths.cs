using System.Management.Automation;

namespace VirtShell.PowerShell.Session;

/// <summary>
/// Turns -Path and -LiteralPath values into definition files, as PowerShell's own cmdlets do: -Path expands
/// wildcards (into files only: a folder is never a definition), -LiteralPath takes the text as it is, so a file
/// whose name has '[' can still be named. Relative paths are relative to the current PowerShell location.
/// </summary>
internal static class DefinitionPaths
{
    /// <summary>The files <paramref name="given"/> names, in name order; none, and an error saying why, when it names none.</summary>
    public static IReadOnlyList<string> Resolve(PSCmdlet cmdlet, string given, bool literal, out ErrorRecord? error)
    {
        error = null;
        if (literal || !WildcardPattern.ContainsWildcardCharacters(given))
        {
            string path = cmdlet.GetUnresolvedProviderPathFromPSPath(given);
            if (File.Exists(path)) return [path];
            error = VirtShellErrors.DefinitionMissing(path);
            return [];
        }

        List<string> files;
        try
        {
            var matches = cmdlet.GetResolvedProviderPathFromPSPath(given, out var provider);
            if (provider.Name != "FileSystem")
            {
                error = VirtShellErrors.DefinitionPatternUnmatched(given, $"it names {provider.Name} items, not files");
                return [];
            }
            files = matches.Where(File.Exists).Order(StringComparer.Ordinal).ToList();
        }
        catch (SessionStateException e) // ItemNotFound, DriveNotFound, ProviderNotFound
        {
            error = VirtShellErrors.DefinitionPatternUnmatched(given, e.Message);
            return [];
        }
        if (files.Count == 0) error = VirtShellErrors.DefinitionPatternUnmatched(given, null);
        return files;
    }
}
