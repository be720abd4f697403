using System.Collections.Concurrent;
using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Remoting;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Runs a command inside running machines (containers: <c>runc exec</c>), like Invoke-Command -VMName or docker
/// exec. Its stdout lines go to the pipeline as strings as they come, its stderr lines are non-terminating errors,
/// and its exit code lands in $LASTEXITCODE (and, with -PassThru, in a result object after the output).
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "VirtCommand", DefaultParameterSetName = ByName)]
[OutputType(typeof(string), typeof(VirtCommandResult))]
public sealed class InvokeVirtCommandCommand : MachineCmdlet
{
    public const string CommandNotFound = "VirtShell.CommandNotFound";
    public const string CommandStandardError = "VirtShell.CommandStandardError";

    /// <summary>The program and its arguments, one per element: <c>-Command 'sh','-c','echo hi'</c>.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string[] Command { get; set; } = [];

    /// <summary>Absolute path inside the machine; default: the machine process's own.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? WorkingDirectory { get; set; }

    /// <summary>NAME=value entries added to the environment.</summary>
    [Parameter]
    public string[] Environment { get; set; } = [];

    /// <summary>"uid" or "uid:gid"; default: the user the machine's process runs as.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? User { get; set; }

    /// <summary>Writes a <see cref="VirtCommandResult"/> (exit code, duration) after the command's output.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>
    /// The command's lines come back from every host as it writes them, interleaved, each with its ComputerName.
    /// $LASTEXITCODE is set there; -PassThru brings the exit code back.
    /// </summary>
    protected override void ProcessRemote(IReadOnlyList<PSSession> sessions) => Remote.Forward(sessions, ForwardedParameters(), HostOrder.AsItComes);

    protected override void Process(Machine machine)
    {
        var command = new GuestCommand(Command) { WorkingDirectory = WorkingDirectory, Environment = Environment, User = User };
        WriteVerboseCall($"Running '{string.Join(' ', Command)}' in", machine);
        using var lines = new BlockingCollection<GuestOutputLine>();
        var watch = Stopwatch.StartNew();
        // The command runs on a worker; this (the pipeline) thread is the only one allowed to write output.
        var run = Task.Run(() =>
        {
            try { return Local.Call(machine, control => control.ExecuteAsync(command, new LineSink(lines), Interrupted)); }
            finally { lines.CompleteAdding(); }
        });
        foreach (var line in lines.GetConsumingEnumerable())
        {
            if (line.IsError)
                WriteError(new ErrorRecord(new Exception(line.Text), CommandStandardError, ErrorCategory.NotSpecified, machine));
            else
                WriteObject(line.Text);
        }

        int exitCode;
        try
        {
            exitCode = run.GetAwaiter().GetResult();
        }
        catch (GuestCommandException e)
        {
            WriteError(new ErrorRecord(e, CommandNotFound, ErrorCategory.ObjectNotFound, Command[0]));
            return;
        }
        SessionState.PSVariable.Set("global:LASTEXITCODE", exitCode);
        if (PassThru) WriteObject(new VirtCommandResult(machine.Name, Command, exitCode, watch.Elapsed));
    }
}

/// <summary>Hands each output line to the pipeline thread as it comes (not through a synchronization context, as Progress would).</summary>
internal sealed class LineSink(BlockingCollection<GuestOutputLine> lines) : IProgress<GuestOutputLine>
{
    public void Report(GuestOutputLine value) => lines.Add(value);
}

/// <summary>How a command run by Invoke-VirtCommand ended.</summary>
public sealed record VirtCommandResult(string MachineName, IReadOnlyList<string> Command, int ExitCode, TimeSpan Duration);
