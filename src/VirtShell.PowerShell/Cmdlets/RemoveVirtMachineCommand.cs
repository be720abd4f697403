using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Deletes machines with their folders (console.log included). A running machine needs -Force. As with Hyper-V's
/// Remove-VM, -Force also stands for the confirmation; -WhatIf still only says what would be removed.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "VirtMachine", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High,
    DefaultParameterSetName = ByName)]
public sealed class RemoveVirtMachineCommand : MachineCmdlet
{
    /// <summary>Turns a running machine off first, and removes without asking.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Seconds -Force waits for the machine to stop.</summary>
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    protected override void Process(Machine machine)
    {
        bool whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value) && ((SwitchParameter)value).IsPresent;
        if ((!Force || whatIf) && !ShouldProcess(machine.Name, "Remove machine")) return;
        if (Force && machine.State.IsLive())
        {
            WriteVerboseCall("Turning off", machine);
            Local.Call(machine, control => control.StopAsync(turnOff: true, StopTimeout.TotalSeconds, Interrupted));
            machine = Local.Host.Current(machine);
        }
        WriteVerboseCall("Removing", machine);
        Local.Host.Remove(machine);
        Local.ForgetCursor(machine);
    }
}
