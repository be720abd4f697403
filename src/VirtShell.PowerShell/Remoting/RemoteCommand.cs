using System.Collections;
using System.Collections.Concurrent;
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
    /// What runs first in a session, in every script of ours there: VirtShell imported once (from
    /// VIRTSHELL_MODULE_PATH where that host sets it, else by name from its PSModulePath), or an error saying how to
    /// install it. Machines are serialized two levels deep, so Spec and LastExit arrive with their properties.
    /// </summary>
    public const string ImportScript = """
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

        """;

    /// <summary>The cmdlet, or a script of ours that uses VirtShell there (<see cref="RunScript"/>), after the import.</summary>
    private const string Script = """
        param([string] $Command, [hashtable] $Parameters, [string] $Body)

        """ + ImportScript + """
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

    /// <summary>
    /// Runs this cmdlet on every session and writes what comes back as it comes, from this (the cmdlet's) thread.
    /// <paramref name="order"/> says whether the hosts' output is written in the sessions' order (the first host's as
    /// it comes, each other's once the hosts before it have ended) or every host's as it comes, interleaved.
    /// </summary>
    public void Forward(IReadOnlyList<PSSession> sessions, IDictionary<string, object?> parameters, HostOrder order = HostOrder.Sessions)
    {
        var held = sessions.Select(_ => new List<(PSObject? Item, ErrorRecord? Error)>()).ToArray();
        var ended = new bool[sessions.Count];
        int head = 0;
        void Write(PSSession session, PSObject? item, ErrorRecord? error)
        {
            if (item is not null) cmdlet.WriteObject(Adopt(item, session));
            if (error is not null) cmdlet.WriteError(error);
        }
        Stream(sessions, Script, Dispatch(cmdlet.MyInvocation.MyCommand.Name, null, parameters), null,
            (host, item, error) =>
            {
                if (order == HostOrder.AsItComes || host == head) Write(sessions[host], item, error);
                else held[host].Add((item, error));
            },
            host =>
            {
                ended[host] = true;
                while (order == HostOrder.Sessions && head < sessions.Count && ended[head] && ++head < sessions.Count)
                    foreach (var (item, error) in held[head]) Write(sessions[head], item, error);
            });
    }

    /// <summary>Runs VirtShell's <paramref name="command"/> on every session in parallel; one answer per session, in order.</summary>
    public IReadOnlyList<HostAnswer> Run(IReadOnlyList<PSSession> sessions, string command, IDictionary<string, object?> parameters) =>
        Collect(sessions, command, null, parameters);

    /// <summary>Runs a script of ours on every session in parallel, with VirtShell imported there; its parameters by name.</summary>
    public IReadOnlyList<HostAnswer> RunScript(IReadOnlyList<PSSession> sessions, string script, IDictionary<string, object?> parameters) =>
        Collect(sessions, "", script, parameters);

    /// <summary>Runs one command on one host for a step that cannot go on after an error: the first error is thrown.</summary>
    public IReadOnlyList<PSObject> RunOrThrow(PSSession session, string command, IDictionary<string, object?> parameters, string? script = null)
    {
        var answer = Collect([session], command, script, parameters)[0];
        if (answer.Errors.Count > 0) throw new RemoteHostException(session.ComputerName, answer.Errors[0].Exception.Message, answer.Errors[0].Exception);
        return answer.Output;
    }

    /// <summary>
    /// Runs a whole script of ours (it imports VirtShell itself, starting with <see cref="ImportScript"/> after its
    /// param block) on one session, with <paramref name="input"/> as its pipeline input: what is added to it reaches
    /// the script's <c>$input</c> as it is added, until it is completed. Output and errors reach
    /// <paramref name="arrived"/> on this thread as they come; it returns when the script has ended there.
    /// </summary>
    public void Stream(PSSession session, string script, IDictionary<string, object?> parameters, PSDataCollection<object> input,
        Action<PSObject?, ErrorRecord?> arrived) =>
        Stream([session], script, parameters, input, (_, item, error) => arrived(item, error), _ => { });

    private IReadOnlyList<HostAnswer> Collect(IReadOnlyList<PSSession> sessions, string command, string? body, IDictionary<string, object?> parameters)
    {
        var answers = sessions.Select(s => new HostAnswer(s)).ToList();
        Stream(sessions, Script, Dispatch(command, body, parameters), null,
            (host, item, error) =>
            {
                if (item is not null) answers[host].Output.Add(Adopt(item, sessions[host]));
                if (error is not null) answers[host].Errors.Add(error);
            },
            _ => { });
        return answers;
    }

    private static Dictionary<string, object?> Dispatch(string command, string? body, IDictionary<string, object?> parameters)
    {
        var table = new Hashtable(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in parameters) table[name] = value;
        return new() { ["Command"] = command, ["Parameters"] = table, ["Body"] = body };
    }

    /// <summary>
    /// Runs <paramref name="script"/> on every session at once and hands each host's output and errors (named for
    /// the host) to <paramref name="arrived"/> as they come, on this thread, the only one a cmdlet may write from;
    /// <paramref name="ended"/> follows a host's last. The remote pipelines push into collections from their
    /// transport threads, which only queue here. A host that does not answer gets one
    /// <see cref="HostUnreachable"/> error: a call under way when the host dies does not always end by itself (the
    /// session turns Broken, the pipeline stays Running), so the wait watches the sessions too.
    /// </summary>
    private void Stream(IReadOnlyList<PSSession> sessions, string script, IDictionary<string, object?> parameters, PSDataCollection<object>? input,
        Action<int, PSObject?, ErrorRecord?> arrived, Action<int> ended)
    {
        // Not disposed: a host's transport thread may still hand it something after this call gave up (Ctrl+C).
        var arrivals = new BlockingCollection<Arrival>();
        var calls = new RemoteCall?[sessions.Count];
        int open = 0;
        try
        {
            for (int host = 0; host < sessions.Count; host++)
            {
                var session = sessions[host];
                var state = session.Runspace.RunspaceStateInfo;
                if (state.State != RunspaceState.Opened)
                {
                    arrivals.Add(new(host, null, Unreachable(session, $"its session is {state.State}{Reason(state.Reason)}")));
                    arrivals.Add(new(host, null, null, End: true));
                    open++;
                    continue;
                }
                var shell = SysPowerShell.Create();
                shell.Runspace = session.Runspace;
                shell.AddScript(script);
                foreach (var (name, value) in parameters) shell.AddParameter(name, value);
                lock (_running)
                {
                    if (_stopped) throw new PipelineStoppedException();
                    _running.Add(shell);
                }
                calls[host] = new RemoteCall(host, session, shell, arrivals);
                open++;
                calls[host]!.Begin(input);
            }
            while (open > 0)
            {
                if (_stopped) throw new PipelineStoppedException();
                if (!arrivals.TryTake(out var arrival, 100))
                {
                    foreach (var call in calls) call?.Watch();
                    continue;
                }
                if (arrival is { End: false, Item: null, Error: null })
                {
                    calls[arrival.Host]?.Watch(); // its pipeline has completed
                    continue;
                }
                if (!arrival.End)
                {
                    arrived(arrival.Host, arrival.Item, arrival.Error);
                    continue;
                }
                open--;
                if (calls[arrival.Host] is { } done)
                {
                    input?.Complete(); // (one host's) before its pipeline goes, which would still send it
                    lock (_running) _running.Remove(done.Shell);
                    done.Shell.Dispose();
                }
                ended(arrival.Host);
            }
        }
        finally
        {
            // Left early (Ctrl+C, an error, Select-Object -First stopping the commands before it): what still runs
            // there is stopped, or the session would stay busy with it.
            input?.Complete(); // what was running there and still reads it ends with it
            foreach (var call in calls) call?.Abandon();
        }
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

    /// <summary>The ErrorId of a host that did not answer.</summary>
    public const string HostUnreachable = "VirtShell.HostUnreachable";

    internal static ErrorRecord Unreachable(PSSession session, string why, Exception? inner = null) =>
        new(new RemoteHostException(session.ComputerName, $"host {session.ComputerName} did not answer: {why}", inner),
            HostUnreachable, ErrorCategory.ConnectionError, session);

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

    internal static bool IsTransport(Exception e) =>
        e is PSRemotingTransportException or PSRemotingDataStructureException or InvalidRunspaceStateException
        || e.InnerException is PSRemotingTransportException;

    internal static string Reason(Exception? e) => e is null ? "" : $" ({e.Message})";
}

/// <summary>How the output of several hosts is written.</summary>
internal enum HostOrder
{
    /// <summary>In the sessions' order: a host's output as it comes once the hosts before it have ended.</summary>
    Sessions,
    /// <summary>Every host's as it comes, interleaved (each object carries its host): for output that follows a machine.</summary>
    AsItComes,
}

/// <summary>One object of a host's output, one of its errors, the sign that its pipeline completed (neither), or its end.</summary>
internal readonly record struct Arrival(int Host, PSObject? Item, ErrorRecord? Error, bool End = false);

/// <summary>
/// One pipeline on one host: what it writes is queued as it comes, from the transport's threads, and then its end.
/// Everything it queues goes through one lock, so its end comes after its last output and error. Its end is queued by
/// the cmdlet's thread (<see cref="Watch"/>), woken when the pipeline completes: EndInvoke on a transport thread could
/// wait for that thread.
/// </summary>
internal sealed class RemoteCall(int host, PSSession session, System.Management.Automation.PowerShell shell, BlockingCollection<Arrival> arrivals)
{
    private readonly PSDataCollection<PSObject> _output = new();
    private IAsyncResult? _pending;
    private RegisteredWaitHandle? _completion;
    private bool _ended;

    public System.Management.Automation.PowerShell Shell => shell;

    public void Begin(PSDataCollection<object>? input)
    {
        _output.DataAdded += Drain;
        shell.Streams.Error.DataAdded += Drain;
        try
        {
            _pending = shell.BeginInvoke(input ?? NoInput(), _output);
            _completion = ThreadPool.RegisterWaitForSingleObject(_pending.AsyncWaitHandle,
                (_, _) => arrivals.Add(new(host, null, null)), null, Timeout.Infinite, executeOnlyOnce: true);
        }
        catch (Exception e) when (e is not PipelineStoppedException)
        {
            End(RemoteCommand.Unreachable(session, e.Message, e));
        }
    }

    /// <summary>An input that has ended: the pipeline there is told at once that none will come.</summary>
    private static PSDataCollection<object> NoInput()
    {
        var none = new PSDataCollection<object>();
        none.Complete();
        return none;
    }

    /// <summary>Ends a call whose session broke under it (it would stay Running), or whose end was not signalled.</summary>
    public void Watch()
    {
        var state = session.Runspace.RunspaceStateInfo;
        if (state.State is RunspaceState.Broken or RunspaceState.Closed && _pending is { IsCompleted: false })
        {
            shell.BeginStop(null, null);
            End(RemoteCommand.Unreachable(session, $"its session became {state.State} during the call{RemoteCommand.Reason(state.Reason)}"));
        }
        else if (_pending is { IsCompleted: true }) Finish();
    }

    /// <summary>Stops listening, and stops the pipeline if it still runs: what comes after this is not wanted.</summary>
    public void Abandon()
    {
        _output.DataAdded -= Drain;
        shell.Streams.Error.DataAdded -= Drain;
        _completion?.Unregister(null);
        lock (this)
        {
            if (_ended || _pending is null or { IsCompleted: true }) return;
            _ended = true;
        }
        shell.BeginStop(_ => shell.Dispose(), null);
    }

    private void Drain(object? sender, DataAddedEventArgs e)
    {
        lock (this)
        {
            if (!_ended) DrainLocked();
        }
    }

    private void DrainLocked()
    {
        foreach (var item in _output.ReadAll()) if (item is not null) arrivals.Add(new(host, item, null));
        foreach (var error in shell.Streams.Error.ReadAll()) arrivals.Add(new(host, null, RemoteCommand.Adopt(error, session)));
    }

    /// <summary>Its output, its errors, the error it ended with (a transport's failure: the host did not answer), its end.</summary>
    private void Finish()
    {
        ErrorRecord? failure = null;
        lock (this)
        {
            if (_ended) return;
            try
            {
                shell.EndInvoke(_pending!);
            }
            catch (RuntimeException e) when (e is not PipelineStoppedException && !RemoteCommand.IsTransport(e) && e.ErrorRecord is { } record)
            {
                failure = RemoteCommand.Adopt(record, session);
            }
            catch (Exception e) when (e is not PipelineStoppedException)
            {
                failure = RemoteCommand.Unreachable(session, e.Message, e);
            }
            End(failure);
        }
    }

    private void End(ErrorRecord? failure)
    {
        lock (this)
        {
            if (_ended) return;
            DrainLocked();
            _ended = true;
            if (failure is not null) arrivals.Add(new(host, null, failure));
            arrivals.Add(new(host, null, null, End: true));
        }
    }
}

/// <summary>What one host answered: its output and errors (one <see cref="RemoteCommand.HostUnreachable"/> when it did not answer).</summary>
internal sealed class HostAnswer(PSSession session)
{
    public PSSession Session { get; } = session;
    public List<PSObject> Output { get; } = [];
    public List<ErrorRecord> Errors { get; } = [];
}
