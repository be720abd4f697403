using System.Management.Automation;
using VirtShell.Charts;
using VirtShell.Models.Comparison;
using VirtShell.PowerShell.Completion;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Runs the same workloads on every model (or those named) and writes one row per model: the seed table's columns
/// and the figures measured on this host. <c>-Chart</c> also draws them. The work is ModelComparison's.
/// </summary>
[Cmdlet(VerbsData.Compare, "VirtModel")]
[OutputType(typeof(ModelComparisonRow))]
public sealed class CompareVirtModelCommand : VirtShellCmdlet, IDisposable
{
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ModelNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    /// <summary>machine-defs/guests of a built checkout; by default the one above the module or the current folder.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? GuestPath { get; set; }

    /// <summary>Seconds each throughput measure grows to (the difference between its short and long run).</summary>
    [Parameter]
    [ValidateRange(0.05, 600)]
    public double TargetSeconds { get; set; } = 1.0;

    /// <summary>A .png or .svg file to draw the comparison in.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Chart { get; set; }

    private readonly CancellationTokenSource _stop = new();

    protected override void StopProcessing()
    {
        base.StopProcessing();
        _stop.Cancel();
    }

    public void Dispose() => _stop.Dispose();

    protected override void EndLocal()
    {
        string? chart = Chart == null ? null : GetUnresolvedProviderPathFromPSPath(Chart);
        if (chart != null && System.IO.Path.GetExtension(chart).ToLowerInvariant() is not (".png" or ".svg"))
            ThrowTerminatingError(VirtShellErrors.FromException(new ArgumentException($"-Chart '{Chart}': the chart is written as .png or .svg"), Chart));
        var host = VirtShellSession.Current.Host;
        var models = host.Models.All.Where(m => Name.Any(n => new WildcardPattern(n, WildcardOptions.IgnoreCase).IsMatch(m.Name))).ToList();
        foreach (var name in Name.Where(n => !WildcardPattern.ContainsWildcardCharacters(n) && host.Models.Find(n) == null))
            WriteError(VirtShellErrors.ModelMissing(name, host.Models.All.Select(m => m.Name)));

        ComparisonGuests guests;
        try
        {
            string directory = GuestPath != null
                ? GetUnresolvedProviderPathFromPSPath(GuestPath)
                : ComparisonGuests.Locate([System.IO.Path.GetDirectoryName(typeof(CompareVirtModelCommand).Assembly.Location)!, SessionState.Path.CurrentFileSystemLocation.Path])
                  ?? throw new ComparisonException("no machine-defs/guests folder above the module or the current folder: give -GuestPath");
            guests = new ComparisonGuests(directory);
        }
        catch (ComparisonException e)
        {
            ThrowTerminatingError(VirtShellErrors.FromException(new ArgumentException(e.Message, e), GuestPath));
            return;
        }

        var comparison = new ModelComparison(host, guests, new ComparisonOptions { TargetSeconds = TargetSeconds });
        var progress = new ProgressRecord(1, "Compare-VirtModel", "starting");
        var rows = new List<ModelComparisonRow>();
        try
        {
            foreach (var row in comparison.Run(models, status =>
            {
                progress.StatusDescription = status;
                WriteProgress(progress);
            }, _stop.Token))
            {
                rows.Add(row);
                WriteObject(row);
            }
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);

        if (chart == null) return;
        try { ComparisonChart.Save(rows, chart); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            WriteError(VirtShellErrors.FromException(e, Chart));
        }
    }
}
