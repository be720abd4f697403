using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>Types into a machine's serial console: -Text as it is, or -Line followed by a carriage return (Enter).</summary>
[Cmdlet(VerbsCommunications.Send, "VirtConsole", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(Machine))]
public sealed class SendVirtConsoleCommand : MachineChangeCmdlet
{
    [Parameter]
    public string? Text { get; set; }

    /// <summary>A line: sent with "\r" after it, as a serial terminal sends Enter.</summary>
    [Parameter]
    public string? Line { get; set; }

    protected override string Action => Line is null ? $"Send text '{Text}'" : $"Send line '{Line}'";
    protected override string Doing => Line is null ? $"Sending text '{Text}' to" : $"Sending line '{Line}' to";

    protected override void BeginLocal()
    {
        // -Text and -Line are not parameter sets of their own: they would double the -Name/-InputObject sets.
        if ((Text is null) == (Line is null))
            ThrowTerminatingError(VirtShellErrors.FromException(
                new ArgumentException("give either -Text or -Line (one of them)"), null));
    }

    protected override void Change(Machine machine) =>
        Local.Call(machine, control => control.SendInputAsync(Line is null ? Text! : Line + "\r", Interrupted));
}
