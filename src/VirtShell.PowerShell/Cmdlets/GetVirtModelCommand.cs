using System.Management.Automation;
using VirtShell.Engine.Models;
using VirtShell.PowerShell.Completion;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>A machine model as Get-VirtModel shows it: whether it can run on this host, and why not.</summary>
public sealed class VirtModelInfo(IMachineModel model, ModelAvailability availability)
{
    public string Name { get; } = model.Name;
    public string Technique { get; } = model.Technique;
    public bool Available { get; } = availability.IsAvailable;
    public string? Reason { get; } = availability.Reason;
    public IReadOnlyCollection<string> DeviceTypes { get; } = model.DeviceTypes;
}

[Cmdlet(VerbsCommon.Get, "VirtModel")]
[OutputType(typeof(VirtModelInfo))]
public sealed class GetVirtModelCommand : VirtShellCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ModelNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    protected override void ProcessLocal()
    {
        var models = VirtShellSession.Current.Host.Models.All;
        foreach (var name in Name)
        {
            var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
            var matches = models.Where(m => pattern.IsMatch(m.Name)).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
                WriteError(VirtShellErrors.ModelMissing(name, models.Select(m => m.Name)));
            foreach (var model in matches) WriteObject(new VirtModelInfo(model, model.GetAvailability()));
        }
    }
}
