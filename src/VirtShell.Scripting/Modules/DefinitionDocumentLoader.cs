using Microsoft.ClearScript;
using Microsoft.ClearScript.JavaScript;
using VirtShell.Engine.Definitions;

namespace VirtShell.Scripting.Modules;

/// <summary>An import that cannot be satisfied; carries the place of the import so the error can name it.</summary>
internal sealed class ImportException(string message, SourceLocation? location) : Exception(message)
{
    public SourceLocation? Location { get; } = location;
}

/// <summary>
/// Loads the modules of one definition: files under the definition's folder tree only (ES modules, .js or .mjs),
/// plus the built-in 'virtshell' module, which ClearScript serves as a system document before asking us. Keeps
/// every source it loaded so errors and hooks can be traced back to a file and line.
/// </summary>
internal sealed class DefinitionDocumentLoader(string rootFolder, DefinitionSources sources) : DocumentLoader
{
    private readonly string _root = Path.TrimEndingDirectorySeparator(rootFolder) + Path.DirectorySeparatorChar;

    public override Task<Document> LoadDocumentAsync(DocumentSettings settings, DocumentInfo? sourceInfo, string specifier,
        DocumentCategory category, DocumentContextCallback contextCallback)
    {
        string? referrer = sourceInfo?.Uri is { IsFile: true } u ? u.LocalPath : null;
        string path = Resolve(specifier, referrer);
        return Task.FromResult<Document>(new StringDocument(DocumentInfoFor(path), sources.Read(path)));
    }

    public static DocumentInfo DocumentInfoFor(string path) => new(new Uri(path)) { Category = ModuleCategory.Standard };

    private string Resolve(string specifier, string? referrer)
    {
        SourceLocation? at = referrer != null ? sources.FindText(referrer, specifier) : null;
        string by = at == null && referrer != null ? $" (imported by {referrer})" : "";
        string path;
        if (specifier.StartsWith("file://", StringComparison.Ordinal)) path = new Uri(specifier).LocalPath;
        else if (specifier.StartsWith("./", StringComparison.Ordinal) || specifier.StartsWith("../", StringComparison.Ordinal) || specifier.StartsWith('/'))
            path = Path.GetFullPath(specifier, referrer != null ? Path.GetDirectoryName(referrer)! : _root);
        else
            throw new ImportException($"cannot import '{specifier}': a definition may import 'virtshell' and relative files ('./x.js') only{by}", at);

        if (!path.StartsWith(_root, StringComparison.Ordinal))
            throw new ImportException($"cannot import '{specifier}': {path} is outside the definition's folder {_root}{by}", at);
        if (!(path.EndsWith(".js", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".mjs", StringComparison.OrdinalIgnoreCase)))
            throw new ImportException($"cannot import '{specifier}': only .js and .mjs files are modules{by}", at);
        if (!File.Exists(path))
            throw new ImportException($"cannot import '{specifier}': {path} does not exist{by}", at);
        return path;
    }
}
