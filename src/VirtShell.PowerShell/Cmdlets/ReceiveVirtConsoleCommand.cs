using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text.RegularExpressions;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Remoting;
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

    /// <summary>
    /// Writes each line as it comes, as tail -f does, until the machine's run ends (and all its output was written),
    /// -Timeout passes (not an error then) or Ctrl+C. Not with -Pattern.
    /// </summary>
    [Parameter]
    public SwitchParameter Follow { get; set; }

    /// <summary>Reads from the start of the output kept (console.log), not from the cursor.</summary>
    [Parameter]
    public SwitchParameter FromStart { get; set; }

    protected override void BeginLocal()
    {
        if (Pattern is null) return;
        if (Follow)
            ThrowTerminatingError(VirtShellErrors.FromException(new ArgumentException("give -Follow or -Pattern, not both", nameof(Follow)), Pattern));
        try
        {
            _ = new Regex(Pattern); // the engine matches; a bad pattern is an error of the call, before any machine
        }
        catch (ArgumentException e)
        {
            ThrowTerminatingError(VirtShellErrors.FromException(new ArgumentException($"-Pattern: {e.Message}", nameof(Pattern)), Pattern));
        }
    }

    /// <summary>Followed output goes on as it comes from every host, each line carrying its ComputerName.</summary>
    protected override void ProcessRemote(IReadOnlyList<PSSession> sessions) =>
        Remote.Forward(sessions, ForwardedParameters(), Follow ? HostOrder.AsItComes : HostOrder.Sessions);

    protected override void Process(Machine machine)
    {
        var deadline = Deadline.After(Timeout);
        string activity = Pattern is null
            ? $"Waiting for console output from machine {machine.Name}"
            : $"Waiting for machine {machine.Name} to print a line matching '{Pattern}'";
        var progress = new WaitProgress(this, activity, deadline, Timeout);
        using var reader = new ConsoleReader(Local, Interrupted);
        try
        {
            Receive(machine, reader, deadline, progress);
        }
        catch (OperationCanceledException) when (Interrupted.IsCancellationRequested)
        {
            // Ctrl+C while the host waited for output
        }
        finally
        {
            progress.Complete();
        }
    }

    /// <summary>
    /// Calls the engine (<see cref="ConsoleLineSearch"/>) until it has what was asked: each call waits at most a
    /// short slice, so the progress bar moves and Ctrl+C is seen. Without -Pattern each call's lines go out as they
    /// come; with it, the range up to the match is handed out once found, a chunk's lines per call.
    /// </summary>
    private void Receive(Machine machine, ConsoleReader reader, Deadline deadline, WaitProgress progress)
    {
        var from = FromStart ? default : Local.GetCursor(machine);
        bool waiting = Wait || Follow || Timeout is not null;
        bool delivered = false;
        ConsoleSearch? search = null;
        while (true)
        {
            var result = reader.ReadLines(ref machine, new ConsoleLineQuery
            {
                From = from,
                Pattern = Pattern,
                Search = search,
                WaitSeconds = waiting && (!delivered || Follow) ? deadline.NextSlice.TotalSeconds : 0,
            });
            if (result.Outcome == ConsoleLineOutcome.Lines)
            {
                Local.SetCursor(machine, result.Next);
                foreach (var line in result.Lines) WriteObject(line);
                from = result.Next;
                delivered = true;
                if (Follow && deadline.HasPassed) return;
                continue;
            }
            if (result.Outcome == ConsoleLineOutcome.Matched)
            {
                Local.SetCursor(machine, result.Next);
                DeliverBetween(ref machine, reader, from, result.Next.Offset);
                return;
            }
            if ((delivered && !Follow) || !waiting || Interrupted.IsCancellationRequested) return;
            if (result.Outcome == ConsoleLineOutcome.Ended)
            {
                // Like Receive-Job -Wait on a finished job: no more output will come. Only a pattern left unmatched is an error.
                machine = Local.Host.Current(machine);
                if (Pattern is not null)
                    WriteError(VirtShellErrors.Stopped(
                        $"machine '{machine.Name}' is {machine.State}{Ended(machine)} and its console output did not match '{Pattern}'; {result.Received}", machine));
                return;
            }
            if (deadline.HasPassed)
            {
                if (Follow) return;
                string what = Pattern is null ? "no output" : $"no output matching '{Pattern}'";
                string received = Pattern is null ? "received nothing" : result.Received;
                WriteError(VirtShellErrors.TimedOut($"{what} from machine '{machine.Name}' within {Timeout:0.###} s; {received}", machine));
                return;
            }
            search = result.Search;
            if (!delivered) progress.Update(result.LinesReceived == 0
                ? $"machine is {result.State}; no output yet"
                : $"machine is {result.State}; {result.LinesReceived} lines received, none matching");
        }
    }

    /// <summary>Hands out the lines from <paramref name="from"/> to <paramref name="until"/>, a chunk at a time.</summary>
    private void DeliverBetween(ref Machine machine, ConsoleReader reader, ConsoleCursor from, long until)
    {
        for (var at = from; at.Offset < until;)
        {
            var result = reader.ReadLines(ref machine, new ConsoleLineQuery { From = at, Until = until });
            if (result.Outcome != ConsoleLineOutcome.Lines) return;
            foreach (var line in result.Lines) WriteObject(line);
            at = result.Next;
        }
    }

    private static string Ended(Machine machine) => machine.LastExit is { } exit ? $" ({exit})" : "";
}
