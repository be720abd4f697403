using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Gives machines at rest a new definition: validated as New-VirtMachine validates, then stored in place of the old
/// copy. A machine under way keeps its definition and the call is an InvalidState error.
/// </summary>
[Cmdlet(VerbsCommon.Set, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class SetVirtMachineCommand : MachineChangeCmdlet
{
    /// <summary>The new definition (.js), relative to the current PowerShell location.</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Definition { get; set; } = "";

    private string _file = "";

    protected override string Action => $"Replace the definition with {_file}";
    protected override string Doing => $"Giving {_file} as the definition of";

    protected override void BeginLocal()
    {
        var files = DefinitionPaths.Resolve(this, Definition, literal: false, out var missing);
        if (missing is not null) ThrowTerminatingError(missing);
        if (files.Count > 1)
            ThrowTerminatingError(VirtShellErrors.FromException(new ArgumentException(
                $"-Definition names one file, but '{Definition}' matches {files.Count}", nameof(Definition)), Definition));
        _file = files[0];
    }

    protected override void Change(Machine machine) => Local.Host.Redefine(machine, _file);
}
