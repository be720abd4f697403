using System.Management.Automation;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.State;
using VirtShell.Engine.Store;

namespace VirtShell.PowerShell.Session;

/// <summary>
/// Turns engine failures into ErrorRecords with a stable ErrorId, a category and the object at fault. The engine's
/// messages already name the file, line, machine or parameter, so they are shown as they are.
/// </summary>
internal static class VirtShellErrors
{
    public const string MachineNotFound = "VirtShell.MachineNotFound";
    public const string ModelNotFound = "VirtShell.ModelNotFound";
    public const string DefinitionNotFound = "VirtShell.DefinitionNotFound";
    public const string DefinitionInvalid = "VirtShell.DefinitionInvalid";
    public const string MachineExists = "VirtShell.MachineExists";
    public const string InvalidState = "VirtShell.InvalidState";
    public const string HookFailed = "VirtShell.HookFailed";
    public const string InvalidArgument = "VirtShell.InvalidArgument";
    public const string Timeout = "VirtShell.Timeout";
    public const string MachineStopped = "VirtShell.MachineStopped";
    public const string EngineError = "VirtShell.EngineError";
    public const string CheckpointNotFound = "VirtShell.CheckpointNotFound";
    public const string CheckpointInvalid = "VirtShell.CheckpointInvalid";
    public const string StateNotSupported = "VirtShell.StateNotSupported";
    public const string ExportInvalid = "VirtShell.ExportInvalid";

    public static ErrorRecord FromException(Exception e, object? target) => e switch
    {
        DefinitionException => new ErrorRecord(e, DefinitionInvalid, ErrorCategory.InvalidData, target),
        MachineExistsException => new ErrorRecord(e, MachineExists, ErrorCategory.ResourceExists, target),
        CheckpointNotFoundException => new ErrorRecord(e, CheckpointNotFound, ErrorCategory.ObjectNotFound, target),
        CheckpointException or StateFormatException => new ErrorRecord(e, CheckpointInvalid, ErrorCategory.InvalidData, target),
        StateNotSupportedException => new ErrorRecord(e, StateNotSupported, ErrorCategory.NotImplemented, target),
        ExportFormatException => new ErrorRecord(e, ExportInvalid, ErrorCategory.InvalidData, target),
        MachineStateException => new ErrorRecord(e, InvalidState, ErrorCategory.InvalidOperation, target),
        HookException => new ErrorRecord(e, HookFailed, ErrorCategory.OperationStopped, target),
        ArgumentException => new ErrorRecord(e, InvalidArgument, ErrorCategory.InvalidArgument, target),
        UnauthorizedAccessException => new ErrorRecord(e, EngineError, ErrorCategory.PermissionDenied, target),
        IOException => new ErrorRecord(e, EngineError, ErrorCategory.WriteError, target),
        _ => new ErrorRecord(e, EngineError, ErrorCategory.NotSpecified, target),
    };

    public static ErrorRecord MachineMissing(string name, string machinesDirectory) => new(
        new ItemNotFoundException($"no machine named '{name}' in {machinesDirectory}"),
        MachineNotFound, ErrorCategory.ObjectNotFound, name);

    public static ErrorRecord DefinitionMissing(string path) => new(
        new ItemNotFoundException($"definition file {path} does not exist"),
        DefinitionNotFound, ErrorCategory.ObjectNotFound, path);

    /// <summary>A -Path wildcard pattern that matched no file; <paramref name="why"/> adds what the provider said.</summary>
    public static ErrorRecord DefinitionPatternUnmatched(string pattern, string? why)
    {
        string hint = pattern.Contains('[') ? "; for a file whose name has '[' or ']', use -LiteralPath" : "";
        string reason = why is null ? "" : $" ({why})";
        return new(new ItemNotFoundException($"no definition file matches the wildcard pattern '{pattern}'{reason}{hint}"),
            DefinitionNotFound, ErrorCategory.ObjectNotFound, pattern);
    }

    public static ErrorRecord ModelMissing(string name, IEnumerable<string> known) => new(
        new ItemNotFoundException($"no model named '{name}' (known: {string.Join(", ", known)})"),
        ModelNotFound, ErrorCategory.ObjectNotFound, name);

    public static ErrorRecord TimedOut(string message, object target) =>
        new(new TimeoutException(message), Timeout, ErrorCategory.OperationTimeout, target);

    public static ErrorRecord Stopped(string message, object target) =>
        new(new MachineStateException(message), MachineStopped, ErrorCategory.InvalidResult, target);
}
