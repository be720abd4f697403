using System.Management.Automation;
using VirtShell.Engine.Machines;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// What machines have cost and done: host CPU time and memory, instructions, exits, console bytes, under one set of
/// names for every model (null where a model cannot count a thing). Counters exist only while the machine runs;
/// its host process counts them.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "VirtMachine", DefaultParameterSetName = ByName)]
[OutputType(typeof(MachineMeasurement))]
public sealed class MeasureVirtMachineCommand : MachineCmdlet
{
    protected override void Process(Machine machine) => WriteObject(Local.Call(machine, control => control.MeasureAsync(Interrupted)));
}
