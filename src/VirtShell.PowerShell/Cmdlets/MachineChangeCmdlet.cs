using System.Diagnostics;
using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>A machine cmdlet that changes state: asks ShouldProcess first (-WhatIf, -Confirm), -PassThru after.</summary>
public abstract class MachineChangeCmdlet : MachineCmdlet
{
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>What ShouldProcess says is about to happen ("Start", "Stop", ...).</summary>
    protected abstract string Action { get; }

    /// <summary>What -Verbose says is under way, before "machine NAME": "Starting", "Sending line 'ls' to".</summary>
    protected abstract string Doing { get; }

    protected abstract void Change(Machine machine);

    protected override void Process(Machine machine)
    {
        if (!ShouldProcess(machine.Name, Action)) return;
        WriteVerboseCall(Doing, machine);
        var watch = Stopwatch.StartNew();
        Change(machine);
        machine = Local.Host.Current(machine);
        WriteVerbose($"Machine {machine.Name} is {machine.State} after {watch.Elapsed.TotalSeconds:0.###} s");
        if (PassThru) WriteObject(machine);
    }
}
