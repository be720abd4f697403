using System.Management.Automation;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Machines;
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
    protected override void Change(Machine machine) => Session.Call(machine, control => control.ExportAsync(FullPath, Interrupted));
}

/// <summary>Makes a machine from a file Export-VirtMachine wrote, under its exported name or -Name.</summary>
[Cmdlet(VerbsData.Import, "VirtMachine", SupportsShouldProcess = true)]
[OutputType(typeof(Machine))]
public sealed class ImportVirtMachineCommand : PSCmdlet
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

    protected override void ProcessRecord()
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

/// <summary>Moves machines to another model, keeping their state; refused with the reason where that cannot be done.</summary>
[Cmdlet(VerbsCommon.Move, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class MoveVirtMachineCommand : MachineChangeCmdlet
{
    /// <summary>The model to move to.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Model { get; set; } = "";

    protected override string Action => $"Move to model {Model}";
    protected override string Doing => $"Moving to model {Model}";
    protected override void Change(Machine machine) => Session.Call(machine, control => control.MoveAsync(Model, Interrupted));
}
