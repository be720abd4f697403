using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

public enum VirtMachineWaitTarget { Running, Stopped }

/// <summary>Waits until machines run, or have ended (Stopped or Crashed).</summary>
[Cmdlet(VerbsLifecycle.Wait, "VirtMachine", DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class WaitVirtMachineCommand : MachineCmdlet
{
    [Parameter(Mandatory = true)]
    public VirtMachineWaitTarget For { get; set; }

    /// <summary>Seconds, for all the machines together; without it, waits until Ctrl+C.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public double? Timeout { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    private Deadline _deadline;

    protected override void BeginProcessing() => _deadline = Deadline.After(Timeout);

    protected override void Process(Machine machine)
    {
        MachineState[] ends = For == VirtMachineWaitTarget.Running
            ? [MachineState.Running]
            : [MachineState.Stopped, MachineState.Crashed];
        string activity = $"Waiting for machine {machine.Name} to be {For}";
        WriteVerbose(activity);
        var progress = new WaitProgress(this, activity, _deadline, Timeout);
        bool reached;
        try
        {
            reached = MachineWatch.WaitForState(Session.Host, ref machine, ends, _deadline, Interrupted,
                current => progress.Update($"it is {current.State}"));
        }
        finally
        {
            progress.Complete();
        }
        if (!reached)
        {
            if (Interrupted.IsCancellationRequested) return;
            WriteError(VirtShellErrors.TimedOut(
                $"machine '{machine.Name}' did not become {For} within {Timeout:0.###} s; it is {machine.State}", machine));
            return;
        }
        if (PassThru) WriteObject(machine);
    }
}
