using System.Management.Automation;
using VirtShell.Engine.Machines;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>A machine cmdlet that changes state: asks ShouldProcess first (-WhatIf, -Confirm), -PassThru after.</summary>
public abstract class MachineChangeCmdlet : MachineCmdlet
{
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>What ShouldProcess says is about to happen ("Start", "Stop", ...).</summary>
    protected abstract string Action { get; }

    protected abstract void Change(Machine machine);

    protected sealed override void Process(Machine machine)
    {
        if (!ShouldProcess(machine.Name, Action)) return;
        Change(machine);
        if (PassThru) WriteObject(machine);
    }
}
