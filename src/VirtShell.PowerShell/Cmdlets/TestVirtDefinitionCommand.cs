using System.Management.Automation;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>Loads and validates a definition without making a machine: $true, or an error naming file:line and $false.</summary>
[Cmdlet(VerbsDiagnostic.Test, "VirtDefinition")]
[OutputType(typeof(bool))]
public sealed class TestVirtDefinitionCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "Definition")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (var given in Path)
        {
            string path = GetUnresolvedProviderPathFromPSPath(given);
            if (!File.Exists(path))
            {
                WriteError(VirtShellErrors.DefinitionMissing(path));
                WriteObject(false);
                continue;
            }
            try
            {
                VirtShellSession.Current.Host.Validate(path);
                WriteObject(true);
            }
            catch (Exception e) when (e is not PipelineStoppedException)
            {
                WriteError(VirtShellErrors.FromException(e, path));
                WriteObject(false);
            }
        }
    }

    protected override void StopProcessing() => VirtShellSession.Current.Host.InterruptDefinitionLoads();
}
