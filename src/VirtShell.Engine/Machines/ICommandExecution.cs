namespace VirtShell.Engine.Machines;

/// <summary>
/// Optional for a runtime: it can run a command inside the running machine (a container's <c>runc exec</c>).
/// Callers go through <see cref="Machine.Execute"/>, which checks the machine's state first.
/// </summary>
public interface ICommandExecution
{
    /// <summary>
    /// Runs <paramref name="command"/> to its end and returns its exit code (128 + n when signal n ended it).
    /// Output lines reach <paramref name="onLine"/> as they come, from another thread, in order within each stream.
    /// Cancelling asks the command to end (SIGTERM). Throws <see cref="GuestCommandException"/> when the command
    /// could not be started at all (no such program, not executable).
    /// </summary>
    int Execute(GuestCommand command, Action<GuestOutputLine> onLine, CancellationToken cancel);
}

/// <summary>A command to run inside a machine: the program and its arguments, and optionally where and as whom.</summary>
public sealed record GuestCommand(IReadOnlyList<string> Arguments)
{
    /// <summary>Absolute path inside the machine; null for the machine's default.</summary>
    public string? WorkingDirectory { get; init; }
    /// <summary>NAME=value entries added to the machine's environment.</summary>
    public IReadOnlyList<string> Environment { get; init; } = [];
    /// <summary>"uid" or "uid:gid"; null for the user the machine's own process runs as.</summary>
    public string? User { get; init; }
}

/// <summary>One line a command wrote, without its line ending; <see cref="IsError"/> for stderr.</summary>
public readonly record struct GuestOutputLine(bool IsError, string Text);

/// <summary>The command never ran: the message says why (as the runtime explained it).</summary>
public sealed class GuestCommandException(string message) : Exception(message);
