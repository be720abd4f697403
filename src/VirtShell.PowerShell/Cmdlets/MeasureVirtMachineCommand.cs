using System.Management.Automation;
using VirtShell.Engine.Machines;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// A machine's counters (instructions, exits: whatever its model counts) and uptime, one object per machine with
/// each counter as a property. Counters exist only while this process runs the machine.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "VirtMachine", DefaultParameterSetName = ByName)]
[OutputType(typeof(PSObject))]
public sealed class MeasureVirtMachineCommand : MachineCmdlet
{
    protected override void Process(Machine machine)
    {
        var result = new PSObject();
        result.TypeNames.Insert(0, "VirtShell.MachineMeasurement");
        result.Properties.Add(new PSNoteProperty("Name", machine.Name));
        result.Properties.Add(new PSNoteProperty("State", machine.State));
        result.Properties.Add(new PSNoteProperty("Uptime", machine.Uptime));
        foreach (var (counter, value) in machine.Counters.OrderBy(c => c.Key, StringComparer.Ordinal))
            result.Properties.Add(new PSNoteProperty(counter, value));
        WriteObject(result);
    }
}
