using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>Makes a machine from a definition file: validated first, then stored whole or not at all.</summary>
[Cmdlet(VerbsCommon.New, "VirtMachine", SupportsShouldProcess = true)]
[OutputType(typeof(Machine))]
public sealed class NewVirtMachineCommand : PSCmdlet
{
    /// <summary>The definition (.js); relative to the current PowerShell location.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "Path")]
    [ValidateNotNullOrEmpty]
    public string Definition { get; set; } = "";

    /// <summary>Overrides the name the definition gives. Not bound from the pipeline: a file's Name is not a machine's.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    protected override void StopProcessing() => VirtShellSession.Current.Host.InterruptDefinitionLoads();

    protected override void ProcessRecord()
    {
        string path = GetUnresolvedProviderPathFromPSPath(Definition);
        if (!File.Exists(path))
        {
            WriteError(VirtShellErrors.DefinitionMissing(path));
            return;
        }
        string target = Name is null ? path : $"{Name} (from {path})";
        if (!ShouldProcess(target, "Create machine")) return;
        try
        {
            WriteObject(VirtShellSession.Current.Host.Create(path, Name));
        }
        catch (Exception e) when (e is not PipelineStoppedException)
        {
            WriteError(VirtShellErrors.FromException(e, Name ?? path));
        }
    }
}
