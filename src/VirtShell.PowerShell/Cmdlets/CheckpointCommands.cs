using System.Management.Automation;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Completion;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>Takes a checkpoint of each machine: a running one is paused for it and goes on (see <see cref="Machine.Checkpoint"/>).</summary>
[Cmdlet(VerbsData.Checkpoint, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(MachineCheckpoint))]
public sealed class CheckpointVirtMachineCommand : MachineCmdlet
{
    /// <summary>The checkpoint's name; by default "NAME - (date - time)".</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? CheckpointName { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process(Machine machine)
    {
        if (!ShouldProcess(machine.Name, CheckpointName is null ? "Create checkpoint" : $"Create checkpoint '{CheckpointName}'")) return;
        WriteVerboseCall("Checkpointing", machine);
        var taken = Local.Call(machine, control => control.CheckpointAsync(CheckpointName, Interrupted));
        var checkpoint = CheckpointStore.Open(machine.Directory, machine.Name, taken.CheckpointName);
        WriteVerbose($"Checkpoint '{checkpoint.CheckpointName}' of machine {machine.Name}: {checkpoint.SizeBytes} bytes, disks {checkpoint.DiskCapture}");
        if (PassThru) WriteObject(checkpoint);
    }
}

/// <summary>Lists checkpoints, of every machine or of those named, optionally by checkpoint name (wildcards).</summary>
[Cmdlet(VerbsCommon.Get, "VirtCheckpoint")]
[OutputType(typeof(MachineCheckpoint))]
public sealed class GetVirtCheckpointCommand : VirtShellCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("MachineName")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(MachineNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] CheckpointName { get; set; } = ["*"];

    protected override void ProcessLocal()
    {
        var session = VirtShellSession.Current;
        foreach (var machine in MachineSelection.Resolve(this, session.Host, Name))
            foreach (var checkpoint in CheckpointSelection.Resolve(this, machine, CheckpointName))
                WriteObject(checkpoint);
    }
}

/// <summary>
/// Puts a checkpoint back into a machine at rest; a checkpoint taken while it ran leaves it Saved, and the next
/// Start-VirtMachine goes on from there. A running machine is refused unless -Force turns it off first.
/// </summary>
[Cmdlet(VerbsData.Restore, "VirtCheckpoint", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class RestoreVirtCheckpointCommand : MachineCmdlet
{
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string CheckpointName { get; set; } = "";

    /// <summary>Turns a running machine off first.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Seconds -Force waits for the machine to stop.</summary>
    private const double StopTimeout = 30;

    protected override void Process(Machine machine)
    {
        string action = Force && machine.State.IsLive()
            ? $"Turn off and restore checkpoint '{CheckpointName}'" : $"Restore checkpoint '{CheckpointName}'";
        if (!ShouldProcess(machine.Name, action)) return;
        if (Force && machine.State.IsLive())
        {
            WriteVerboseCall("Turning off", machine);
            Local.Call(machine, control => control.StopAsync(turnOff: true, StopTimeout, Interrupted));
            machine = Local.Host.Current(machine);
        }
        WriteVerboseCall($"Restoring checkpoint '{CheckpointName}' of", machine);
        Local.Call(machine, control => control.RestoreCheckpointAsync(CheckpointName, Interrupted));
        machine = Local.Host.Current(machine);
        WriteVerbose($"Machine {machine.Name} is {machine.State}");
        if (PassThru) WriteObject(machine);
    }
}

/// <summary>Deletes checkpoints (wildcards); the machine and its other checkpoints are untouched.</summary>
[Cmdlet(VerbsCommon.Remove, "VirtCheckpoint", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
[OutputType(typeof(MachineCheckpoint))]
public sealed class RemoveVirtCheckpointCommand : MachineCmdlet
{
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] CheckpointName { get; set; } = [];

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process(Machine machine)
    {
        foreach (var checkpoint in CheckpointSelection.Resolve(this, machine, CheckpointName))
        {
            if (!ShouldProcess($"{machine.Name}", $"Remove checkpoint '{checkpoint.CheckpointName}'")) continue;
            WriteVerbose($"Removing checkpoint '{checkpoint.CheckpointName}' of machine {machine.Name}");
            CheckpointStore.Remove(checkpoint);
            if (PassThru) WriteObject(checkpoint);
        }
    }
}

/// <summary>
/// Resolves -CheckpointName values of one machine to checkpoints, oldest first: a name without wildcards that matches
/// none is an error (CheckpointNotFound), a pattern that matches none is not; a damaged checkpoint is an error naming it.
/// </summary>
internal static class CheckpointSelection
{
    public static IReadOnlyList<MachineCheckpoint> Resolve(Cmdlet cmdlet, Machine machine, IEnumerable<string> names)
    {
        var found = new List<MachineCheckpoint>();
        var all = CheckpointStore.Names(machine.Directory);
        foreach (var name in names)
        {
            var matches = WildcardPattern.ContainsWildcardCharacters(name)
                ? all.Where(new WildcardPattern(name, WildcardOptions.IgnoreCase).IsMatch)
                : [name];
            foreach (var match in matches)
            {
                try
                {
                    var checkpoint = CheckpointStore.Open(machine.Directory, machine.Name, match);
                    if (!found.Any(c => c.CheckpointName == checkpoint.CheckpointName)) found.Add(checkpoint);
                }
                catch (Exception e) when (e is not PipelineStoppedException)
                {
                    cmdlet.WriteError(VirtShellErrors.FromException(e, $"{machine.Name}/{match}"));
                }
            }
        }
        return [.. found.OrderBy(c => c.CreatedAt)];
    }
}
