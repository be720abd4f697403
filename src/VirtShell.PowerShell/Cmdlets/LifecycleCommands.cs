using System.Management.Automation;
using VirtShell.Engine.Machines;

namespace VirtShell.PowerShell.Cmdlets;

[Cmdlet(VerbsLifecycle.Start, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class StartVirtMachineCommand : MachineChangeCmdlet
{
    protected override string Action => "Start";
    protected override string Doing => "Starting";
    protected override void Change(Machine machine) => Local.Start(machine, Interrupted);
}

[Cmdlet(VerbsLifecycle.Stop, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class StopVirtMachineCommand : MachineChangeCmdlet
{
    /// <summary>Cuts the power instead of asking the guest to shut down.</summary>
    [Parameter]
    public SwitchParameter TurnOff { get; set; }

    /// <summary>Seconds to wait for the machine to stop.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public double Timeout { get; set; } = 30;

    protected override string Action => TurnOff ? "Turn off" : "Stop";
    protected override string Doing => TurnOff ? "Turning off" : "Stopping";

    protected override void Change(Machine machine)
    {
        bool wasRunning = machine.State.IsLive();
        bool asked = Local.Call(machine, control => control.StopAsync(TurnOff, Timeout, Interrupted));
        if (wasRunning && !TurnOff && !asked)
            WriteWarning($"machine '{machine.Name}' was turned off: its model has no shutdown channel to ask the guest to shut down");
    }
}

[Cmdlet(VerbsLifecycle.Suspend, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class SuspendVirtMachineCommand : MachineChangeCmdlet
{
    protected override string Action => "Suspend";
    protected override string Doing => "Suspending";
    protected override void Change(Machine machine) => Local.Call(machine, control => control.PauseAsync(Interrupted));
}

[Cmdlet(VerbsLifecycle.Resume, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class ResumeVirtMachineCommand : MachineChangeCmdlet
{
    protected override string Action => "Resume";
    protected override string Doing => "Resuming";
    protected override void Change(Machine machine) => Local.Call(machine, control => control.ResumeAsync(Interrupted));
}
