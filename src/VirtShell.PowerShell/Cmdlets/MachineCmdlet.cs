using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Completion;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// A cmdlet that acts on machines chosen by <c>-Name</c> (wildcards, by property name from the pipeline) or by
/// <c>-InputObject</c> (machines from the pipeline). A name without wildcards that matches nothing is an error; a
/// wildcard that matches nothing is not, as with Get-VM.
/// </summary>
public abstract class MachineCmdlet : PSCmdlet
{
    protected const string ByName = "Name";
    protected const string ByInputObject = "InputObject";

    private readonly CancellationTokenSource _stopping = new();

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByName, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(MachineNameCompleter))]
    public string[] Name { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = ByInputObject, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Machine[] InputObject { get; set; } = [];

    private protected VirtShellSession Session => VirtShellSession.Current;

    /// <summary>Cancelled by Ctrl+C (StopProcessing), for long waits.</summary>
    protected CancellationToken Interrupted => _stopping.Token;

    protected sealed override void ProcessRecord()
    {
        foreach (var machine in SelectedMachines())
        {
            if (Interrupted.IsCancellationRequested) return;
            try
            {
                Process(machine);
            }
            catch (Exception e) when (e is not PipelineStoppedException)
            {
                WriteError(VirtShellErrors.FromException(e, machine));
            }
        }
    }

    /// <summary>Does this cmdlet's work on one machine; engine exceptions become non-terminating errors.</summary>
    protected abstract void Process(Machine machine);

    protected override void StopProcessing() => _stopping.Cancel();

    private IEnumerable<Machine> SelectedMachines()
    {
        var host = Session.Host;
        if (ParameterSetName == ByInputObject)
        {
            foreach (var given in InputObject)
            {
                // Re-read it: another process may have changed or removed the machine since it was listed.
                if (host.Find(given.Name) is { } machine) yield return machine;
                else WriteError(VirtShellErrors.MachineMissing(given.Name, host.Store.MachinesDirectory));
            }
            yield break;
        }
        foreach (var machine in MachineSelection.Resolve(this, host, Name)) yield return machine;
    }
}

/// <summary>Resolves -Name values (with or without wildcards) to machines, writing MachineNotFound where due.</summary>
internal static class MachineSelection
{
    public static IEnumerable<Machine> Resolve(Cmdlet cmdlet, VirtualizationHost host, IEnumerable<string> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyList<Machine>? all = null;
        foreach (var name in names)
        {
            if (WildcardPattern.ContainsWildcardCharacters(name))
            {
                var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
                foreach (var machine in all ??= host.List())
                    if (pattern.IsMatch(machine.Name) && seen.Add(machine.Name)) yield return machine;
            }
            else if (host.Find(name) is { } machine)
            {
                if (seen.Add(machine.Name)) yield return machine;
            }
            else cmdlet.WriteError(VirtShellErrors.MachineMissing(name, host.Store.MachinesDirectory));
        }
    }
}
