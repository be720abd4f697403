using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using VirtShell.PowerShell.Remoting;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Every VirtShell cmdlet. Without -Session or -HostName it works here; with them, the same cmdlet runs with the
/// same parameters on each host, in parallel, through PowerShell remoting over SSH (<see cref="RemoteCommand"/>),
/// and its results come back as VirtShell objects that carry their host. A subclass writes only its local work.
/// </summary>
public abstract class VirtShellCmdlet : PSCmdlet
{
    /// <summary>Hosts to run on. Bound from the Session property of objects that came from a host, so they go back to it.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public PSSession[]? Session { get; set; }

    /// <summary>Hosts to run on, by SSH host name ([user@]host[:port]); their sessions are opened once and kept.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? HostName { get; set; }

    /// <summary>The SSH private key for -HostName.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? KeyFilePath { get; set; }

    /// <summary>SSH options for -HostName (each becomes ssh -o Name=Value), as New-PSSession -Options takes them.</summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? SshOption { get; set; }

    private IReadOnlyList<PSSession>? _opened;
    private RemoteCommand? _remote;
    private bool _wentRemote;

    /// <summary>Runs remote commands of this cmdlet (and stops them on Ctrl+C).</summary>
    private protected RemoteCommand Remote => _remote ??= new RemoteCommand(this);

    protected sealed override void BeginProcessing()
    {
        if (HostName is not null)
        {
            if (Session is not null)
                ThrowTerminatingError(new ErrorRecord(new ArgumentException("give -Session or -HostName, not both"), "VirtShell.InvalidArgument", ErrorCategory.InvalidArgument, null));
            _opened = RemoteSessions.Open(this, HostName, KeyFilePath, SshOption);
            return;
        }
        if (Session is null) BeginLocal();
    }

    protected sealed override void ProcessRecord()
    {
        var sessions = Session ?? (HostName is null ? null : _opened);
        if (sessions is null)
        {
            ProcessLocal();
            return;
        }
        _wentRemote = true;
        if (sessions.Count > 0) ProcessRemote(sessions);
    }

    protected sealed override void EndProcessing()
    {
        if (!_wentRemote && HostName is null) EndLocal();
    }

    protected override void StopProcessing() => _remote?.Stop();

    /// <summary>Checks made once, before the first record, when the cmdlet works here.</summary>
    protected virtual void BeginLocal() { }

    /// <summary>This cmdlet's work here, for one pipeline record.</summary>
    protected virtual void ProcessLocal() { }

    /// <summary>Work done here once every record has been seen.</summary>
    protected virtual void EndLocal() { }

    /// <summary>The same work on other hosts: by default this cmdlet, with the parameters it was given, on each of them.</summary>
    protected virtual void ProcessRemote(IReadOnlyList<PSSession> sessions) => Remote.Forward(sessions, ForwardedParameters());

    /// <summary>
    /// The parameters this cmdlet was given, as the same cmdlet on another host takes them: without the remoting
    /// ones and the common ones that name variables or preferences here (errors and warnings come back and follow
    /// this command's own -ErrorAction), switches as booleans.
    /// </summary>
    private protected virtual Dictionary<string, object?> ForwardedParameters() => RemoteCommand.Forwardable(MyInvocation.BoundParameters);
}
