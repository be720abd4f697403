using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Completion;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

[Cmdlet(VerbsCommon.Get, "VirtMachine")]
[OutputType(typeof(Machine))]
public sealed class GetVirtMachineCommand : VirtShellCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(MachineNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    protected override void ProcessLocal()
    {
        foreach (var machine in MachineSelection.Resolve(this, VirtShellSession.Current.Host, Name)) WriteObject(machine);
    }
}
