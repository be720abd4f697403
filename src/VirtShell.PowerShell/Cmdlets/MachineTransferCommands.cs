using System.Management.Automation;
using System.Management.Automation.Runspaces;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Remoting;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>Writes a machine to one portable file (see <see cref="MachineArchive"/>); a running machine is paused for it and goes on.</summary>
[Cmdlet(VerbsData.Export, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class ExportVirtMachineCommand : MachineChangeCmdlet
{
    /// <summary>The file to write, which must not exist; relative to the current PowerShell location.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    private string FullPath => SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);

    protected override string Action => $"Export to {FullPath}";
    protected override string Doing => $"Exporting to {FullPath}";
    protected override void Change(Machine machine) => Local.Call(machine, control => control.ExportAsync(FullPath, Interrupted));
}

/// <summary>Makes a machine from a file Export-VirtMachine wrote, under its exported name or -Name.</summary>
[Cmdlet(VerbsData.Import, "VirtMachine", SupportsShouldProcess = true)]
[OutputType(typeof(Machine))]
public sealed class ImportVirtMachineCommand : VirtShellCmdlet
{
    /// <summary>The export file; files piped from Get-ChildItem bind here.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The new machine's name; by default the name it was exported under.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    protected override void ProcessLocal()
    {
        string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(path, Name is null ? "Import machine" : $"Import machine as '{Name}'")) return;
        try
        {
            var session = VirtShellSession.Current;
            WriteVerbose($"Importing machine {Name ?? "(named as exported)"} from {path}");
            WriteObject(MachineArchive.Import(session.Host, path, Name));
        }
        catch (Exception e) when (e is not PipelineStoppedException)
        {
            WriteError(VirtShellErrors.FromException(e, Name ?? path));
        }
    }
}

/// <summary>
/// Moves machines to another model, keeping their state; or, with -DestinationSession, to another host
/// (<see cref="HostMigration"/>), from this host or from the -Session they are on. Refused with the reason where that
/// cannot be done.
/// </summary>
[Cmdlet(VerbsCommon.Move, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine), typeof(MachineMove))]
public sealed class MoveVirtMachineCommand : MachineChangeCmdlet
{
    /// <summary>The model to move to.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Model { get; set; }

    /// <summary>The host to move to, by its session; the machine keeps its model.</summary>
    [Parameter]
    [ValidateNotNull]
    public PSSession? DestinationSession { get; set; }

    /// <summary>With -DestinationSession: pauses a running machine for the whole move instead of sending its memory while it runs (pre-copy).</summary>
    [Parameter]
    public SwitchParameter StopAndCopy { get; set; }

    protected override string Action => DestinationSession is null ? $"Move to model {Model}" : $"Move to host {DestinationSession.ComputerName}";
    protected override string Doing => DestinationSession is null ? $"Moving to model {Model}" : $"Moving to host {DestinationSession.ComputerName}";

    protected override void Process(Machine machine)
    {
        RequireOneTarget();
        if (DestinationSession is null)
        {
            base.Process(machine);
            return;
        }
        if (!ShouldProcess(machine.Name, Action)) return;
        MoveToHost(null, PSObject.AsPSObject(machine));
    }

    protected override void Change(Machine machine)
    {
        double paused = Local.Call(machine, control => control.MoveAsync(Model!, Interrupted));
        WriteVerbose($"Moved machine {machine.Name} to model {Model}: paused {paused * 1000:0.#} ms (stop and copy)");
    }

    protected override void ProcessRemote(IReadOnlyList<PSSession> sessions)
    {
        RequireOneTarget();
        if (DestinationSession is null)
        {
            base.ProcessRemote(sessions);
            return;
        }
        var migration = new HostMigration(this, Remote);
        foreach (var session in sessions)
        {
            IReadOnlyList<PSObject> machines;
            try { machines = migration.Find(session, Name); }
            catch (RemoteHostException e)
            {
                WriteError(new ErrorRecord(e, VirtShellErrors.MachineNotFound, ErrorCategory.ObjectNotFound, string.Join(",", Name)));
                continue;
            }
            foreach (var machine in machines)
                if (ShouldProcess($"{machine.Properties["Name"].Value} on host {session.ComputerName}", Action)) MoveToHost(session, machine);
        }
    }

    private void MoveToHost(PSSession? source, PSObject machine)
    {
        try
        {
            var move = new HostMigration(this, Remote).Move(source, machine, DestinationSession!, preCopy: !StopAndCopy);
            string rounds = string.Join("; ", move.Rounds.Select(r => $"{r.Pages} pages{(r.Live ? "" : " paused")}"));
            WriteVerbose($"Moved machine {move.Name} from {move.Source} to host {move.Destination} by {move.Method}{(move.Rounds.Count > 0 ? $" ({move.Rounds.Count} rounds: {rounds})" : $" ({move.MethodReason})")}: paused {move.Downtime.TotalSeconds:0.###} s, {move.Total.TotalSeconds:0.###} s in all, {move.CopiedBytes} bytes copied ({move.Steps})");
            WriteObject(move);
            if (PassThru)
                foreach (var moved in Remote.Run([DestinationSession!], "Get-VirtMachine", new Dictionary<string, object?> { ["Name"] = new[] { move.Name } })[0].Output)
                    WriteObject(moved);
        }
        catch (Exception e) when (e is not PipelineStoppedException)
        {
            WriteError(VirtShellErrors.FromException(e, machine.Properties["Name"].Value));
        }
    }

    private void RequireOneTarget()
    {
        if ((Model is null) == (DestinationSession is null))
            ThrowTerminatingError(VirtShellErrors.FromException(new ArgumentException("give either -Model or -DestinationSession (one of them)"), null));
    }
}
