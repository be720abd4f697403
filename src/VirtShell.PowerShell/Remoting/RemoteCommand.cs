using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Remoting;
using System.Management.Automation.Runspaces;
using SysPowerShell = System.Management.Automation.PowerShell;

namespace VirtShell.PowerShell.Remoting;

/// <summary>
/// Runs a VirtShell cmdlet on other hosts through their PowerShell sessions, all at once, and brings the answers
/// back as this host's: output with the VirtShell type names restored (so the module's format views apply, and a
/// view named for <c>TYPE#Remote</c>, where there is one, adds the host's column) and
/// <c>ComputerName</c>/<c>Session</c> added (so a pipeline sends each object back to its host), errors and warnings
/// naming the host, and a host that does not answer reported as an error of its own while the others go on.
/// </summary>
internal sealed class RemoteCommand(PSCmdlet cmdlet)
{
    /// <summary>
    /// What runs in the session: VirtShell imported once (from VIRTSHELL_MODULE_PATH where that host sets it, else
    /// by name from its PSModulePath), or an error saying how to install it; then the cmdlet, or a script of ours
    /// that uses VirtShell there (<see cref="RunScript"/>).
    /// Machines are serialized two levels deep, so Spec and LastExit arrive with their properties.
    /// </summary>
    private const string Script = """
        param([string] $Command, [hashtable] $Parameters, [string] $Body)
        if (-not (Get-Module VirtShell)) {
            $module = if ($env:VIRTSHELL_MODULE_PATH) { $env:VIRTSHELL_MODULE_PATH } else { 'VirtShell' }
            try { Import-Module $module -ErrorAction Stop }
            catch {
                Write-Error -ErrorId VirtShell.ModuleMissing -Category NotInstalled -TargetObject $module -Message ("VirtShell is not installed there (Import-Module $module`: $($_.Exception.Message)). " +
                    "Install the module into a folder on that host's PSModulePath (such as /usr/local/share/powershell/Modules/VirtShell, a copy of a build's out/VirtShell), " +
                    "or set VIRTSHELL_MODULE_PATH to its folder in the environment of that host's powershell SSH subsystem")
                return
            }
            Update-TypeData -TypeName VirtShell.Engine.Machines.Machine -SerializationDepth 2 -Force
        }
        if ($Body) { & ([scriptblock]::Create($Body)) @Parameters } else { & "VirtShell\$Command" @Parameters }
        """;

    /// <summary>Parameters that stay here: the remoting ones, and common ones naming this side's variables or preferences.</summary>
    private static readonly HashSet<string> LocalOnly = new(StringComparer.OrdinalIgnoreCase)
    {
        "Session", "HostName", "KeyFilePath", "SshOption",
        "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable", "WarningVariable",
        "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable",
    };

    private readonly List<SysPowerShell> _running = [];
    private bool _stopped;

    /// <summary>Bound parameters as the same cmdlet on another host takes them; switches become booleans.</summary>
    public static Dictionary<string, object?> Forwardable(IDictionary<string, object> bound)
    {
        var parameters = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in bound)
            if (!LocalOnly.Contains(name)) parameters[name] = value is SwitchParameter s ? s.IsPresent : value;
        return parameters;
    }

    /// <summary>Runs this cmdlet on every session and writes what comes back, host by host in the sessions' order.</summary>
    public void Forward(IReadOnlyList<PSSession> sessions, IDictionary<string, object?> parameters)
    {
        foreach (var answer in Run(sessions, cmdlet.MyInvocation.MyCommand.Name, parameters)) answer.WriteTo(cmdlet);
    }

    /// <summary>Runs VirtShell's <paramref name="command"/> on every session in parallel; one answer per session, in order.</summary>
    public IReadOnlyList<HostAnswer> Run(IReadOnlyList<PSSession> sessions, string command, IDictionary<string, object?> parameters) =>
        Invoke(sessions, command, null, parameters);

    /// <summary>Runs a script of ours on every session in parallel, with VirtShell imported there; its parameters by name.</summary>
    public IReadOnlyList<HostAnswer> RunScript(IReadOnlyList<PSSession> sessions, string script, IDictionary<string, object?> parameters) =>
        Invoke(sessions, "", script, parameters);

    private IReadOnlyList<HostAnswer> Invoke(IReadOnlyList<PSSession> sessions, string command, string? body, IDictionary<string, object?> parameters)
    {
        var table = new Hashtable(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in parameters) table[name] = value;
        var calls = new List<(HostAnswer Answer, SysPowerShell? Shell, IAsyncResult? Pending, PSDataCollection<PSObject> Output)>();
        foreach (var session in sessions)
        {
            var answer = new HostAnswer(session);
            var output = new PSDataCollection<PSObject>();
            if (session.Runspace.RunspaceStateInfo.State != RunspaceState.Opened)
            {
                answer.Fail(new RemoteHostException(session.ComputerName,
                    $"host {session.ComputerName} did not answer: its session is {session.Runspace.RunspaceStateInfo.State}{Reason(session.Runspace.RunspaceStateInfo.Reason)}"));
                calls.Add((answer, null, null, output));
                continue;
            }
            var shell = SysPowerShell.Create();
            shell.Runspace = session.Runspace;
            shell.AddScript(Script).AddArgument(command).AddArgument(table).AddArgument(body);
            lock (_running)
            {
                if (_stopped) throw new PipelineStoppedException();
                _running.Add(shell);
            }
            try
            {
                calls.Add((answer, shell, shell.BeginInvoke<PSObject, PSObject>(null, output), output));
            }
            catch (Exception e) when (e is not PipelineStoppedException)
            {
                answer.Fail(Unreachable(session, e));
                calls.Add((answer, shell, null, output));
            }
        }
        foreach (var (answer, shell, pending, output) in calls)
        {
            if (shell is null) continue;
            try
            {
                if (pending is not null && Settle(answer.Session, pending)) shell.EndInvoke(pending);
                else if (pending is not null)
                {
                    shell.BeginStop(null, null);
                    var state = answer.Session.Runspace.RunspaceStateInfo;
                    answer.Fail(new RemoteHostException(answer.Session.ComputerName,
                        $"host {answer.Session.ComputerName} did not answer: its session became {state.State} during the call{Reason(state.Reason)}"));
                }
            }
            catch (RuntimeException e) when (e is not PipelineStoppedException && !IsTransport(e) && e.ErrorRecord is { } record)
            {
                answer.Errors.Add(Adopt(record, answer.Session));
            }
            catch (Exception e) when (e is not PipelineStoppedException)
            {
                answer.Fail(Unreachable(answer.Session, e));
            }
            finally
            {
                lock (_running) _running.Remove(shell);
            }
            if (_stopped) throw new PipelineStoppedException();
            answer.Collect(shell, output);
            shell.Dispose();
        }
        return calls.Select(c => c.Answer).ToList();
    }

    /// <summary>
    /// Waits for a call to end; false when its session breaks first. A call under way when the host dies does not
    /// always end by itself (the session turns Broken, the pipeline stays Running), so the wait watches the session.
    /// </summary>
    private bool Settle(PSSession session, IAsyncResult pending)
    {
        while (!pending.AsyncWaitHandle.WaitOne(100))
        {
            if (_stopped) throw new PipelineStoppedException();
            if (session.Runspace.RunspaceStateInfo.State is RunspaceState.Broken or RunspaceState.Closed) return pending.IsCompleted;
        }
        return true;
    }

    /// <summary>Runs one command on one host for a step that cannot go on after an error: the first error is thrown.</summary>
    public IReadOnlyList<PSObject> RunOrThrow(PSSession session, string command, IDictionary<string, object?> parameters, string? script = null)
    {
        var answer = Invoke([session], command, script, parameters)[0];
        if (answer.Errors.Count > 0) throw new RemoteHostException(session.ComputerName, answer.Errors[0].Exception.Message, answer.Errors[0].Exception);
        return answer.Output;
    }

    /// <summary>Stops whatever runs on the hosts (Ctrl+C).</summary>
    public void Stop()
    {
        lock (_running)
        {
            _stopped = true;
            foreach (var shell in _running) shell.BeginStop(null, null);
        }
    }

    /// <summary>The session's object as one of this host's: its VirtShell type names first, its host and session added.</summary>
    public static PSObject Adopt(PSObject item, PSSession session)
    {
        const string Deserialized = "Deserialized.";
        var names = item.TypeNames;
        var own = names.Where(n => n.StartsWith(Deserialized + "VirtShell.", StringComparison.Ordinal)).Select(n => n[Deserialized.Length..]).ToList();
        for (int i = own.Count - 1; i >= 0; i--) names.Insert(0, own[i]);
        if (own.Count > 0) names.Insert(0, own[0] + "#Remote"); // views that add the host's column

        if (item.Properties["ComputerName"] is null) item.Properties.Add(new PSNoteProperty("ComputerName", session.ComputerName));
        if (item.Properties["Session"] is null) item.Properties.Add(new PSNoteProperty("Session", session));
        return item;
    }

    /// <summary>A host's error as this host's: the same ErrorId, category and target, the message naming the host.</summary>
    public static ErrorRecord Adopt(ErrorRecord error, PSSession session)
    {
        string message = error.ErrorDetails?.Message ?? error.Exception?.Message ?? error.ToString();
        string id = error.FullyQualifiedErrorId.Split(',')[0];
        return new ErrorRecord(new RemoteHostException(session.ComputerName, $"host {session.ComputerName}: {message}", error.Exception),
            id, error.CategoryInfo.Category, error.TargetObject);
    }

    private static bool IsTransport(Exception e) =>
        e is PSRemotingTransportException or PSRemotingDataStructureException or InvalidRunspaceStateException
        || e.InnerException is PSRemotingTransportException;

    private static RemoteHostException Unreachable(PSSession session, Exception e) =>
        new(session.ComputerName, $"host {session.ComputerName} did not answer: {e.Message}", e);

    private static string Reason(Exception? e) => e is null ? "" : $" ({e.Message})";
}

/// <summary>
/// What one host answered: its output and errors, or why it did not answer. Its warnings and verbose lines are not
/// here: the session's host shows them as they are written there, as it does for Invoke-Command.
/// </summary>
internal sealed class HostAnswer(PSSession session)
{
    public PSSession Session { get; } = session;
    public List<PSObject> Output { get; } = [];
    public List<ErrorRecord> Errors { get; } = [];

    public bool Answered { get; private set; } = true;

    public void Fail(RemoteHostException failure)
    {
        Answered = false;
        Errors.Add(new ErrorRecord(failure, "VirtShell.HostUnreachable", ErrorCategory.ConnectionError, Session));
    }

    public void Collect(System.Management.Automation.PowerShell shell, PSDataCollection<PSObject> output)
    {
        foreach (var item in output) if (item is not null) Output.Add(RemoteCommand.Adopt(item, Session));
        foreach (var error in shell.Streams.Error) Errors.Add(RemoteCommand.Adopt(error, Session));
    }

    public void WriteTo(PSCmdlet cmdlet)
    {
        foreach (var item in Output) cmdlet.WriteObject(item);
        foreach (var error in Errors) cmdlet.WriteError(error);
    }
}
