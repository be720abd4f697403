namespace VirtShell.Engine.Definitions;

/// <summary>
/// A definition that cannot become a machine. The message already names the place at fault (file and line,
/// device or parameter); callers show it as it is, never a stack trace.
/// </summary>
public class DefinitionException(string message, SourceLocation? location = null, Exception? inner = null)
    : Exception(location is null || message.Contains(location.File) ? message : $"{location}: {message}", inner)
{
    /// <summary>Where in the definition the fault is, when known.</summary>
    public SourceLocation? Location { get; } = location;
}
