using System.Management.Automation;
using System.Text.RegularExpressions;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Like Receive-Job: the console output this session has not received yet, as lines (a trailing partial line is
/// the last string). The read cursor is kept per machine in this session.
/// </summary>
[Cmdlet(VerbsCommunications.Receive, "VirtConsole", DefaultParameterSetName = ByName)]
[OutputType(typeof(string))]
public sealed class ReceiveVirtConsoleCommand : MachineCmdlet
{
    /// <summary>Waits for new output (with -Pattern: for a line that matches), while the machine runs.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>
    /// A regular expression (case-insensitive, as -match): output is returned up to and including the first line that
    /// matches. A line without its line end yet (a prompt) matches once no output came for 200 ms.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Pattern { get; set; }

    /// <summary>Seconds to wait at most (it implies -Wait); without it -Wait waits until the output comes, the machine stops or Ctrl+C.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public double? Timeout { get; set; }

    /// <summary>Reads from the start of the output kept (console.log), not from the cursor.</summary>
    [Parameter]
    public SwitchParameter FromStart { get; set; }

    private static readonly TimeSpan BurstDelay = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan PartialLineQuiet = TimeSpan.FromMilliseconds(200);

    private Regex? _pattern;

    protected override void BeginProcessing()
    {
        if (Pattern is null) return;
        try
        {
            _pattern = new Regex(Pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            ThrowTerminatingError(VirtShellErrors.FromException(new ArgumentException($"-Pattern: {e.Message}", nameof(Pattern)), Pattern));
        }
    }

    protected override void Process(Machine machine)
    {
        var deadline = Deadline.After(Timeout);
        string activity = _pattern is null
            ? $"Waiting for console output from machine {machine.Name}"
            : $"Waiting for machine {machine.Name} to print a line matching '{Pattern}'";
        var progress = new WaitProgress(this, activity, deadline, Timeout);
        try
        {
            Receive(machine, deadline, progress);
        }
        finally
        {
            progress.Complete();
        }
    }

    private void Receive(Machine machine, Deadline deadline, WaitProgress progress)
    {
        var from = FromStart ? default : Session.GetCursor(machine);
        long offset = from.Offset;
        var received = new List<byte>();
        bool waiting = Wait || Timeout is not null;
        var sinceOutput = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            // Whether it still runs is read before the output, so output written just before it stopped is seen.
            machine = MachineWatch.Refresh(Session.Host, machine);
            bool running = MachineWatch.IsRunning(machine);
            int before = received.Count;
            received.AddRange(ConsoleReader.ReadFrom(machine, ref offset));
            var lines = new ConsoleLines(received.ToArray(), from.MidLine);

            if (_pattern is not null && lines.UpToMatch(_pattern) is (var matched, var matchEnd, var matchMidLine))
            {
                // A prompt is a line without its line end, so a partial line may match; but while bytes keep coming
                // it may be a line half printed ("Hel" of "Hello"), so it counts once the output has been quiet a while.
                if (received.Count > before) sinceOutput.Restart();
                bool settled = !matchMidLine || sinceOutput.Elapsed >= PartialLineQuiet || !running || !waiting
                               || deadline.HasPassed || Interrupted.IsCancellationRequested;
                if (settled)
                {
                    Deliver(machine, matched, new ConsoleCursor(offset - (received.Count - matchEnd), matchMidLine));
                    return;
                }
                Interrupted.WaitHandle.WaitOne(BurstDelay);
                continue;
            }
            if (_pattern is null && lines.AllConsumed is (var end, var midLine))
            {
                Deliver(machine, lines.All, new ConsoleCursor(offset - (received.Count - end), midLine));
                return;
            }
            if (!waiting || Interrupted.IsCancellationRequested) return;
            if (!running)
            {
                // Like Receive-Job -Wait on a finished job: no more output will come. Only a pattern left unmatched is an error.
                if (_pattern is not null)
                    WriteError(VirtShellErrors.Stopped(
                        $"machine '{machine.Name}' is {machine.State}{Ended(machine)} and its console output did not match '{Pattern}'; {Describe(lines)}", machine));
                return;
            }
            if (deadline.HasPassed)
            {
                string what = _pattern is null ? "no output" : $"no output matching '{Pattern}'";
                WriteError(VirtShellErrors.TimedOut(
                    $"{what} from machine '{machine.Name}' within {Timeout:0.###} s; {Describe(lines)}", machine));
                return;
            }
            progress.Update(lines.Count == 0 ? $"machine is {machine.State}; no output yet" : $"machine is {machine.State}; {lines.Count} lines received, none matching");
            ConsoleReader.WaitForOutput(machine, offset, deadline.NextSlice, Interrupted);
            // A guest prints a byte at a time: let the rest of a burst arrive before looking at all of it again.
            Interrupted.WaitHandle.WaitOne(BurstDelay);
        }
    }

    private void Deliver(Machine machine, IEnumerable<string> lines, ConsoleCursor cursor)
    {
        Session.SetCursor(machine, cursor);
        foreach (var line in lines) WriteObject(line);
    }

    private static string Ended(Machine machine) => machine.LastExit is { } exit ? $" ({exit})" : "";

    private static string Describe(ConsoleLines lines)
    {
        if (lines.Count == 0) return "received nothing";
        string text = string.Join("\n", lines.All);
        const int shown = 2000;
        return text.Length <= shown ? $"received:\n{text}" : $"received ({text.Length} characters, the last {shown} shown):\n{text[^shown..]}";
    }
}
