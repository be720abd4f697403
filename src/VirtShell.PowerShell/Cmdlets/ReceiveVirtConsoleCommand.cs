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
        using var reader = new ConsoleReader(Session, Interrupted);
        try
        {
            Receive(machine, reader, deadline, progress);
        }
        finally
        {
            progress.Complete();
        }
    }

    /// <summary>
    /// Streams the output a chunk at a time, so a log of any size is read in bounded memory. Without -Pattern each
    /// chunk's lines go out as they are read. With -Pattern a first pass looks for the match, keeping only a short
    /// tail for error messages; a second pass then reads again from the cursor and hands out the lines up to it.
    /// </summary>
    private void Receive(Machine machine, ConsoleReader reader, Deadline deadline, WaitProgress progress)
    {
        var from = FromStart ? default : Session.GetCursor(machine);
        var at = from; // where the next read starts (with -Pattern: how far the search got)
        var seen = new SeenLines();
        bool waiting = Wait || Timeout is not null;
        bool delivered = false;
        long newest = at.Offset;
        var sinceOutput = System.Diagnostics.Stopwatch.StartNew();
        var buffer = new byte[ConsoleReader.Chunk];
        bool running = false, refresh = true;
        while (true)
        {
            // Whether it still runs is read before the output, so output written just before it stopped is seen; not
            // again for each chunk of a long log, where it costs more than the read.
            if (refresh)
            {
                machine = MachineWatch.Refresh(Session.Host, machine);
                running = machine.State.IsLive();
            }
            refresh = false;
            long offset = at.Offset;
            var (read, more) = reader.ReadFrom(machine, ref offset, buffer);
            var bytes = read.Span;
            long start = offset - bytes.Length; // the reader moves an offset older than the oldest file kept forward
            if (offset > newest)
            {
                newest = offset;
                sinceOutput.Restart();
            }
            var lines = new ConsoleLines(bytes, at.MidLine);

            if (_pattern is null)
            {
                if (Take(lines, start, cut: more) is (var taken, var next))
                {
                    Session.SetCursor(machine, next);
                    foreach (var line in taken) WriteObject(line);
                    at = next;
                    delivered = true;
                    continue;
                }
                if (delivered) return;
            }
            // The partial line at the end of a chunk cut short is not whole yet: it can match only in the next chunk.
            else if (lines.UpToMatch(_pattern) is (var matched, var matchEnd, var matchMidLine) && !(more && matchMidLine))
            {
                // A prompt is a line without its line end, so a partial line may match; but while bytes keep coming
                // it may be a line half printed ("Hel" of "Hello"), so it counts once the output has been quiet a while.
                bool settled = !matchMidLine || sinceOutput.Elapsed >= PartialLineQuiet || !running || !waiting
                               || deadline.HasPassed || Interrupted.IsCancellationRequested;
                if (settled)
                {
                    Session.SetCursor(machine, new ConsoleCursor(start + matchEnd, matchMidLine));
                    DeliverBetween(machine, reader, from, at.Offset);
                    foreach (var line in matched) WriteObject(line);
                    return;
                }
                Interrupted.WaitHandle.WaitOne(BurstDelay);
                refresh = true;
                continue;
            }
            else
            {
                // No match yet: the search moves past the complete lines; a partial one may still grow into a match.
                var searched = more ? Take(lines, start, cut: true)
                    : lines.Complete is (var complete, var end) ? (complete, new ConsoleCursor(start + end, false)) : null;
                if (searched is (var passed, var next))
                {
                    seen.Add(passed);
                    at = next;
                    lines = new ConsoleLines(bytes[(int)(next.Offset - start)..], next.MidLine);
                }
                if (more) continue;
            }
            if (!waiting || Interrupted.IsCancellationRequested) return;
            if (!running)
            {
                // Like Receive-Job -Wait on a finished job: no more output will come. Only a pattern left unmatched is an error.
                if (_pattern is not null)
                    WriteError(VirtShellErrors.Stopped(
                        $"machine '{machine.Name}' is {machine.State}{Ended(machine)} and its console output did not match '{Pattern}'; {seen.Describe(lines)}", machine));
                return;
            }
            if (deadline.HasPassed)
            {
                string what = _pattern is null ? "no output" : $"no output matching '{Pattern}'";
                WriteError(VirtShellErrors.TimedOut(
                    $"{what} from machine '{machine.Name}' within {Timeout:0.###} s; {seen.Describe(lines)}", machine));
                return;
            }
            long count = seen.Count + lines.Count;
            progress.Update(count == 0 ? $"machine is {machine.State}; no output yet" : $"machine is {machine.State}; {count} lines received, none matching");
            reader.WaitForOutput(machine, offset, deadline.NextSlice);
            // A guest prints a byte at a time: let the rest of a burst arrive before looking at all of it again.
            Interrupted.WaitHandle.WaitOne(BurstDelay);
            refresh = true;
        }
    }

    /// <summary>
    /// The lines of a chunk to hand out and where the cursor goes after them. A chunk <paramref name="cut"/> short of
    /// what follows leaves its last, partial line for the next chunk, unless that line fills the whole chunk.
    /// </summary>
    private static (IEnumerable<string> Lines, ConsoleCursor Next)? Take(ConsoleLines lines, long start, bool cut)
    {
        if (cut && lines.Complete is (var complete, var end)) return (complete, new ConsoleCursor(start + end, false));
        return lines.AllConsumed is (var allEnd, var midLine) ? (lines.All, new ConsoleCursor(start + allEnd, midLine)) : null;
    }

    /// <summary>Reads the lines from <paramref name="from"/> to <paramref name="until"/> again, a chunk at a time, and hands them out.</summary>
    private void DeliverBetween(Machine machine, ConsoleReader reader, ConsoleCursor from, long until)
    {
        var buffer = new byte[ConsoleReader.Chunk];
        for (var at = from; at.Offset < until;)
        {
            long offset = at.Offset;
            var (bytes, more) = reader.ReadFrom(machine, ref offset, buffer);
            long start = offset - bytes.Length;
            int length = (int)Math.Clamp(until - start, 0, bytes.Length);
            if (Take(new ConsoleLines(bytes.Span[..length], at.MidLine), start, cut: more || length < bytes.Length) is not (var lines, var next)) return;
            foreach (var line in lines) WriteObject(line);
            at = next;
        }
    }

    /// <summary>What a search for -Pattern passed over: how many lines, and the end of their text for error messages.</summary>
    private sealed class SeenLines
    {
        private const int Shown = 2000;
        private string _tail = "";
        private long _characters;

        public long Count { get; private set; }

        public void Add(IEnumerable<string> lines)
        {
            foreach (var line in lines)
            {
                _tail = line.Length >= Shown ? line[^Shown..] : Count == 0 ? line : _tail + "\n" + line;
                if (_tail.Length > Shown) _tail = _tail[^Shown..];
                _characters += line.Length + (Count == 0 ? 0 : 1);
                Count++;
            }
        }

        /// <summary>What was received: the lines passed over, then <paramref name="pending"/> (those not passed over yet).</summary>
        public string Describe(ConsoleLines pending)
        {
            var all = new SeenLines { _tail = _tail, _characters = _characters, Count = Count };
            all.Add(pending.All);
            if (all.Count == 0) return "received nothing";
            return all._characters <= Shown ? $"received:\n{all._tail}" : $"received ({all._characters} characters, the last {Shown} shown):\n{all._tail}";
        }
    }

    private static string Ended(Machine machine) => machine.LastExit is { } exit ? $" ({exit})" : "";
}
