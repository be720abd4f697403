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

    protected override void BeginLocal() => _deadline = Deadline.After(Timeout);

    protected override void Process(Machine machine)
    {
        MachineState[] ends = For == VirtMachineWaitTarget.Running
            ? [MachineState.Running]
            : [MachineState.Stopped, MachineState.Crashed];
        string activity = $"Waiting for machine {machine.Name} to be {For}";
        WriteVerbose(activity);
        var progress = new WaitProgress(this, activity, _deadline, Timeout);
        MachineState state;
        try
        {
            // The engine waits; the call returns each slice so the bar moves and Ctrl+C is seen.
            while (true)
            {
                machine = Local.Host.Current(machine);
                state = Local.Call(machine, control => control.WaitForStateAsync(ends, _deadline.NextSlice.TotalSeconds, Interrupted));
                if (ends.Contains(state) || _deadline.HasPassed || Interrupted.IsCancellationRequested) break;
                progress.Update($"it is {state}");
            }
        }
        catch (OperationCanceledException) when (Interrupted.IsCancellationRequested)
        {
            return; // Ctrl+C while the host waited
        }
        finally
        {
            progress.Complete();
        }
        if (!ends.Contains(state))
        {
            if (Interrupted.IsCancellationRequested) return;
            WriteError(VirtShellErrors.TimedOut(
                $"machine '{machine.Name}' did not become {For} within {Timeout:0.###} s; it is {state}", machine));
            return;
        }
        machine = Local.Host.Current(machine);
        if (PassThru) WriteObject(machine);
    }
}
