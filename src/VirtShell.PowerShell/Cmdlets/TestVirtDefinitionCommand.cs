using System.Management.Automation;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Loads and validates definitions without making machines: for each file, $true, or an error naming file:line and
/// $false. -Path takes wildcards (each file matched is tested); a pattern that matches nothing is an error and $false.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "VirtDefinition", DefaultParameterSetName = ByPath)]
[OutputType(typeof(bool))]
public sealed class TestVirtDefinitionCommand : VirtShellCmdlet
{
    private const string ByPath = "Path";
    private const string ByLiteralPath = "LiteralPath";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByPath, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Definition")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    /// <summary>Paths taken as they are, wildcard characters included; files piped from Get-ChildItem bind here.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ByLiteralPath, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    private bool Test(string path)
    {
        WriteVerbose($"Validating definition {path}");
        try
        {
            VirtShellSession.Current.Host.Validate(path);
            return true;
        }
        catch (Exception e) when (e is not PipelineStoppedException)
        {
            WriteError(VirtShellErrors.FromException(e, path));
            return false;
        }
    }

    protected override void ProcessLocal()
    {
        bool literal = ParameterSetName == ByLiteralPath;
        foreach (var given in literal ? LiteralPath : Path)
        {
            var files = DefinitionPaths.Resolve(this, given, literal, out var missing);
            if (missing is not null)
            {
                WriteError(missing);
                WriteObject(false);
            }
            foreach (var path in files) WriteObject(Test(path));
        }
    }

    protected override void StopProcessing()
    {
        base.StopProcessing();
        VirtShellSession.Current.Host.InterruptDefinitionLoads();
    }
}
