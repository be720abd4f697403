using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Remoting;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Makes a machine from each definition file named: validated first, then stored whole or not at all. -Definition
/// takes wildcards; a pattern that matches nothing is an error.
/// </summary>
[Cmdlet(VerbsCommon.New, "VirtMachine", SupportsShouldProcess = true, DefaultParameterSetName = ByPath)]
[OutputType(typeof(Machine))]
public sealed class NewVirtMachineCommand : VirtShellCmdlet
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

    protected override void StopProcessing()
    {
        base.StopProcessing();
        VirtShellSession.Current.Host.InterruptDefinitionLoads();
    }

    private Placement? _placement;

    protected override void ProcessLocal()
    {
        foreach (var path in Files() ?? []) Create(path);
    }

    /// <summary>
    /// On several hosts, each machine goes to the host that fits it (<see cref="Placement"/>), which -WhatIf shows;
    /// the definition is read here for its model, memory and name, and the host reads it from the same path.
    /// One host takes every machine.
    /// </summary>
    protected override void ProcessRemote(IReadOnlyList<PSSession> sessions)
    {
        if (sessions.Count == 1)
        {
            base.ProcessRemote(sessions);
            return;
        }
        var files = Files();
        if (files is null) return;
        _placement ??= Placement.Ask(this, Remote, sessions);
        foreach (var path in files) Place(path);
    }

    /// <summary>The definition files named, or null after writing why there are none.</summary>
    private IReadOnlyList<string>? Files()
    {
        bool literal = ParameterSetName == ByLiteralPath;
        string given = literal ? LiteralPath : Definition;
        var files = DefinitionPaths.Resolve(this, given, literal, out var missing);
        if (missing is not null)
        {
            WriteError(missing);
            return null;
        }
        if (Name is not null && files.Count > 1)
        {
            WriteError(VirtShellErrors.FromException(new ArgumentException(
                $"-Name names one machine, but '{given}' matches {files.Count} definition files; give one file, or leave -Name out", nameof(Name)), given));
            return null;
        }
        return files;
    }

    private void Place(string path)
    {
        try
        {
            var spec = VirtShellSession.Current.Host.Validate(path, Name);
            var (host, why) = _placement!.Choose(spec, spec.Name);
            if (host is null)
            {
                WriteError(new ErrorRecord(new InvalidOperationException(
                    $"no host fits machine '{spec.Name}' (model {spec.Model}, {spec.MemoryBytes / (1024 * 1024)} MiB): {(why.Length > 0 ? why : "no host answered")}"),
                    "VirtShell.NoHostFits", ErrorCategory.ResourceUnavailable, spec.Name));
                return;
            }
            _placement.Placed(host, spec, spec.Name);
            if (!ShouldProcess($"{spec.Name} on host {host.Name} ({why})", "Create machine")) return;
            var parameters = ForwardedParameters();
            parameters.Remove(nameof(Definition));
            parameters.Remove("WhatIf");
            parameters[nameof(LiteralPath)] = path;
            parameters["Confirm"] = false;
            Remote.Forward([host.Session], parameters);
        }
        catch (Exception e) when (e is not PipelineStoppedException)
        {
            WriteError(VirtShellErrors.FromException(e, Name ?? path));
        }
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
