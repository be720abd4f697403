using System.Diagnostics;
using System.Management.Automation;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Makes a machine from each definition file named: validated first, then stored whole or not at all. -Definition
/// takes wildcards; a pattern that matches nothing is an error.
/// </summary>
[Cmdlet(VerbsCommon.New, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByPath)]
[OutputType(typeof(Machine))]
public sealed class NewVirtMachineCommand : PSCmdlet
{
    private const string ByPath = "Path";
    private const string ByLiteralPath = "LiteralPath";

    /// <summary>The definition (.js), relative to the current PowerShell location; a path string from the pipeline binds here.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByPath, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Path")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string Definition { get; set; } = "";

    /// <summary>The definition's path taken as it is, wildcard characters included; files piped from Get-ChildItem bind here.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ByLiteralPath, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = "";

    /// <summary>Overrides the name the definition gives. Not bound from the pipeline: a file's Name is not a machine's.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    protected override void StopProcessing() => VirtShellSession.Current.Host.InterruptDefinitionLoads();

    protected override void ProcessRecord()
    {
        bool literal = ParameterSetName == ByLiteralPath;
        string given = literal ? LiteralPath : Definition;
        var files = DefinitionPaths.Resolve(this, given, literal, out var missing);
        if (missing is not null)
        {
            WriteError(missing);
            return;
        }
        if (Name is not null && files.Count > 1)
        {
            WriteError(VirtShellErrors.FromException(new ArgumentException(
                $"-Name names one machine, but '{given}' matches {files.Count} definition files; give one file, or leave -Name out", nameof(Name)), given));
            return;
        }
        foreach (var path in files) Create(path);
    }

    private void Create(string path)
    {
        string target = Name is null ? path : $"{Name} (from {path})";
        if (!ShouldProcess(target, "Create machine")) return;
        WriteVerbose($"Creating machine {Name ?? "(named by its definition)"} from {path}");
        try
        {
            var watch = Stopwatch.StartNew();
            var machine = VirtShellSession.Current.Host.Create(path, Name);
            WriteVerbose($"Created machine {machine.Name} (model {machine.Model}) in {watch.Elapsed.TotalSeconds:0.###} s");
            WriteObject(machine);
        }
        catch (Exception e) when (e is not PipelineStoppedException)
        {
            WriteError(VirtShellErrors.FromException(e, Name ?? path));
        }
    }
}
