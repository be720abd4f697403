using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Completion;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// A cmdlet that acts on machines chosen by <c>-Name</c> (wildcards; from the pipeline as strings or by property
/// name) or by <c>-InputObject</c> (machines from the pipeline). As with Hyper-V's Stop-VM, both take pipeline input
/// by value: the binder gives a string to -Name and a machine to -InputObject, each by its exact type. A name
/// without wildcards that matches nothing is an error; a wildcard that matches nothing is not, as with Get-VM.
/// </summary>
public abstract class MachineCmdlet : VirtShellCmdlet
{
    protected const string ByName = "Name";
    protected const string ByInputObject = "InputObject";

    private readonly CancellationTokenSource _stopping = new();

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByName, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("MachineName")] // a checkpoint's, from Get-VirtCheckpoint
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(MachineNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Machines, from the pipeline or first in the line: <c>Start-VirtMachine $vm</c> binds here by type, a string to -Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByInputObject, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Machine[] InputObject { get; set; } = [];

    private protected VirtShellSession Local => VirtShellSession.Current;

    /// <summary>Cancelled by Ctrl+C (StopProcessing), for long waits.</summary>
    protected CancellationToken Interrupted => _stopping.Token;

    /// <summary>The -Verbose line before an engine call: "Starting machine h1 (model emulated)".</summary>
    protected void WriteVerboseCall(string doing, Machine machine) =>
        WriteVerbose($"{doing} machine {machine.Name} (model {machine.Model})");

    protected sealed override void ProcessLocal()
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

    protected override void StopProcessing()
    {
        base.StopProcessing();
        _stopping.Cancel();
        Local.Host.InterruptDefinitionLoads(); // Start-VirtMachine loads the definition again
    }

    /// <summary>Machines given here go to another host by name.</summary>
    private protected override Dictionary<string, object?> ForwardedParameters()
    {
        var parameters = base.ForwardedParameters();
        if (parameters.Remove(nameof(InputObject))) parameters[nameof(Name)] = InputObject.Select(m => m.Name).ToArray();
        return parameters;
    }

    private IReadOnlyList<Machine> SelectedMachines()
    {
        var host = Local.Host;
        // An input machine is looked up again by name: another process may have changed or removed it since it was listed.
        return MachineSelection.Resolve(this, host, ParameterSetName == ByInputObject ? InputObject.Select(m => m.Name) : Name);
    }
}

/// <summary>
/// Resolves -Name values (with or without wildcards) to machines, writing MachineNotFound where due, and store
/// errors (a damaged machine.json, a home that went away) as errors of the name that met them.
/// </summary>
internal static class MachineSelection
{
    public static IReadOnlyList<Machine> Resolve(Cmdlet cmdlet, VirtualizationHost host, IEnumerable<string> names)
    {
        var found = new List<Machine>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyList<Machine>? all = null;
        foreach (var name in names)
        {
            try
            {
                if (WildcardPattern.ContainsWildcardCharacters(name))
                {
                    var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
                    found.AddRange((all ??= host.List()).Where(m => pattern.IsMatch(m.Name) && seen.Add(m.Name)));
                }
                else if (host.Find(name) is { } machine)
                {
                    if (seen.Add(machine.Name)) found.Add(machine);
                }
                else cmdlet.WriteError(VirtShellErrors.MachineMissing(name, host.Store.MachinesDirectory));
            }
            catch (Exception e) when (e is not PipelineStoppedException)
            {
                cmdlet.WriteError(VirtShellErrors.FromException(e, name));
            }
        }
        return found;
    }
}
