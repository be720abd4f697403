using System.Diagnostics;
using System.Text.RegularExpressions;
using VirtShell.Engine.Machines;

namespace VirtShell.Engine.Console;

/// <summary>A console read position: the byte offset, and whether it is inside a line already partly returned.</summary>
/// <param name="Offset">Absolute: bytes since the log began.</param>
/// <param name="MidLine">The bytes before it end inside a line whose start was returned.</param>
public readonly record struct ConsoleCursor(long Offset, bool MidLine);

/// <summary>One call of Receive-VirtConsole on the engine (<see cref="IMachineControl.ReadLinesAsync"/>).</summary>
public sealed record ConsoleLineQuery
{
    /// <summary>Where the caller's lines start: its read cursor.</summary>
    public ConsoleCursor From { get; init; }
    /// <summary>
    /// A regular expression (case-insensitive, as PowerShell's -match); the answer is then where the output up to and
    /// including the first matching line ends. Null: the lines there are now.
    /// </summary>
    public string? Pattern { get; init; }
    /// <summary>How far an earlier call's search for <see cref="Pattern"/> got; null to search from <see cref="From"/>.</summary>
    public ConsoleSearch? Search { get; init; }
    /// <summary>Seconds this call may wait for output (a slice: the caller calls again to wait longer). Zero: answer from what is there.</summary>
    public double WaitSeconds { get; init; }
    /// <summary>Without a pattern: only the lines before this offset (handing out the output up to a match).</summary>
    public long? Until { get; init; }
}

/// <summary>How far a search for a pattern got: carried from one call to the next, with what it passed over for error messages.</summary>
/// <param name="At">Where the next call goes on searching.</param>
/// <param name="LinesSeen">How many lines it passed over.</param>
/// <param name="CharactersSeen">Their characters, line ends counted as one.</param>
/// <param name="SeenTail">The end of their text, at most <see cref="ConsoleSearch.Shown"/> characters.</param>
public sealed record ConsoleSearch(ConsoleCursor At, long LinesSeen, long CharactersSeen, string SeenTail)
{
    /// <summary>The most characters of what was received an error message shows.</summary>
    public const int Shown = 2000;

    /// <summary>This search having passed over <paramref name="lines"/> to <paramref name="at"/>.</summary>
    public ConsoleSearch Passed(IEnumerable<string> lines, ConsoleCursor at)
    {
        string tail = SeenTail;
        long count = LinesSeen, characters = CharactersSeen;
        foreach (var line in lines)
        {
            tail = line.Length >= Shown ? line[^Shown..] : count == 0 ? line : tail + "\n" + line;
            if (tail.Length > Shown) tail = tail[^Shown..];
            characters += line.Length + (count == 0 ? 0 : 1);
            count++;
        }
        return new ConsoleSearch(at, count, characters, tail);
    }

    /// <summary>What was received: the lines passed over, then <paramref name="pending"/>, for an error message.</summary>
    public string Describe(IEnumerable<string> pending)
    {
        var all = Passed(pending, At);
        if (all.LinesSeen == 0) return "received nothing";
        return all.CharactersSeen <= Shown
            ? $"received:\n{all.SeenTail}"
            : $"received ({all.CharactersSeen} characters, the last {Shown} shown):\n{all.SeenTail}";
    }
}

/// <summary>What one <see cref="ConsoleLineQuery"/> found.</summary>
public enum ConsoleLineOutcome
{
    /// <summary>Lines to hand out (<see cref="ConsoleLineResult.Lines"/>), the cursor after them in <see cref="ConsoleLineResult.Next"/>.</summary>
    Lines,
    /// <summary>The pattern matched: the output from the query's cursor to <see cref="ConsoleLineResult.Next"/> is to be handed out (with <see cref="ConsoleLineQuery.Until"/>).</summary>
    Matched,
    /// <summary>Nothing yet and the machine runs: call again to wait longer.</summary>
    Waiting,
    /// <summary>Nothing, and no more will come: the machine is at rest.</summary>
    Ended,
}

/// <summary>The answer to a <see cref="ConsoleLineQuery"/>.</summary>
public sealed record ConsoleLineResult
{
    /// <summary>What was found.</summary>
    public ConsoleLineOutcome Outcome { get; init; }
    /// <summary>The lines, for <see cref="ConsoleLineOutcome.Lines"/>; a trailing partial line last.</summary>
    public string[] Lines { get; init; } = [];
    /// <summary>The cursor after <see cref="Lines"/>, or the end of the match.</summary>
    public ConsoleCursor Next { get; init; }
    /// <summary>With a pattern: how far the search got, to pass to the next call.</summary>
    public ConsoleSearch? Search { get; init; }
    /// <summary>What the search received so far, for an error message ("received nothing", "received: ...").</summary>
    public string Received { get; init; } = "";
    /// <summary>How many lines the search received so far.</summary>
    public long LinesReceived { get; init; }
    /// <summary>The machine's state as the last read began.</summary>
    public MachineState State { get; init; }
}

/// <summary>
/// Receive-VirtConsole's reading, done where the machine's console is: lines from a cursor, or a search for a
/// pattern. The log is read a chunk at a time (<see cref="ConsoleReads.Chunk"/>), so a log of any size streams in
/// bounded memory: a search keeps only a short tail of what it passed over, and the caller then reads the range up to
/// the match again (<see cref="ConsoleLineQuery.Until"/>). A line without its line end (a prompt) may match, but only
/// once the output has been quiet for <see cref="Quiet"/>, so a line still being printed is never returned cut.
/// </summary>
public static class ConsoleLineSearch
{
    /// <summary>How long the output must be quiet before a partial line counts as a match.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);
    /// <summary>A guest prints a byte at a time: after output comes, the rest of a burst is let in before looking.</summary>
    private static readonly TimeSpan BurstDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>Answers <paramref name="query"/> from <paramref name="machine"/>'s console.</summary>
    /// <exception cref="ArgumentException">The pattern is not a valid regular expression.</exception>
    public static ConsoleLineResult Read(Machine machine, ConsoleLineQuery query, CancellationToken cancel)
    {
        var pattern = query.Pattern is null ? null : new Regex(query.Pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        var watch = Stopwatch.StartNew();
        var wait = TimeSpan.FromSeconds(Math.Max(0, query.WaitSeconds));
        var search = query.Search ?? new ConsoleSearch(query.From, 0, 0, "");
        var buffer = new byte[ConsoleReads.Chunk];
        while (true)
        {
            // The state is read before the output, so output written just before the machine stopped is in this read.
            var state = machine.State;
            var at = pattern is null ? query.From : search.At;
            long offset = at.Offset;
            var (read, more) = machine.ReadConsole(ref offset, buffer);
            var bytes = read.Span;
            long start = offset - bytes.Length; // an offset older than the oldest file kept moves forward
            var left = wait - watch.Elapsed;

            if (pattern is null)
            {
                int length = query.Until is { } until ? (int)Math.Clamp(until - start, 0, bytes.Length) : bytes.Length;
                var lines = new ConsoleLines(bytes[..length], at.MidLine);
                if (Take(lines, start, cut: more || length < bytes.Length) is var (taken, next))
                    return new ConsoleLineResult { Outcome = ConsoleLineOutcome.Lines, Lines = [.. taken], Next = next, State = state };
                if (query.Until is not null || !state.IsLive() || left <= TimeSpan.Zero || cancel.IsCancellationRequested)
                    return new ConsoleLineResult { Outcome = state.IsLive() ? ConsoleLineOutcome.Waiting : ConsoleLineOutcome.Ended, Next = at, State = state };
            }
            else
            {
                var pending = new ConsoleLines(bytes, at.MidLine);
                // The partial line at the end of a chunk cut short is not whole yet: it can match only in the next chunk.
                if (pending.UpToMatch(pattern) is var (_, matchEnd, matchMidLine) && !(more && matchMidLine))
                {
                    bool settled = !matchMidLine || !state.IsLive() || query.WaitSeconds <= 0
                                   || !machine.WaitForOutput(offset, Quiet, cancel) || cancel.IsCancellationRequested;
                    if (settled)
                        return new ConsoleLineResult
                        {
                            Outcome = ConsoleLineOutcome.Matched, Next = new ConsoleCursor(start + matchEnd, matchMidLine), State = state,
                        };
                    if (wait - watch.Elapsed <= TimeSpan.Zero) return Searching(search, pending, state);
                    continue; // more came while it was to be quiet: look at all of it again
                }
                // No match yet: the search moves past the complete lines; a partial one may still grow into a match.
                var searched = more ? Take(pending, start, cut: true)
                    : pending.Complete is (var complete, var end) ? (complete, new ConsoleCursor(start + end, false)) : null;
                if (searched is var (passed, next))
                {
                    search = search.Passed(passed, next);
                    pending = new ConsoleLines(bytes[(int)(next.Offset - start)..], next.MidLine);
                }
                if (more) continue;
                if (!state.IsLive() || left <= TimeSpan.Zero || cancel.IsCancellationRequested) return Searching(search, pending, state);
            }
            machine.WaitForOutput(offset, left, cancel);
            cancel.WaitHandle.WaitOne(BurstDelay);
        }
    }

    private static ConsoleLineResult Searching(ConsoleSearch search, ConsoleLines pending, MachineState state) => new()
    {
        Outcome = state.IsLive() ? ConsoleLineOutcome.Waiting : ConsoleLineOutcome.Ended,
        Next = search.At,
        Search = search,
        Received = search.Describe(pending.All),
        LinesReceived = search.LinesSeen + pending.Count,
        State = state,
    };

    /// <summary>
    /// The lines of a chunk to hand out and where the cursor goes after them. A chunk <paramref name="cut"/> short of
    /// what follows leaves its last, partial line for the next chunk, unless that line fills the whole chunk.
    /// </summary>
    private static (IEnumerable<string> Lines, ConsoleCursor Next)? Take(ConsoleLines lines, long start, bool cut)
    {
        if (cut && lines.Complete is (var complete, var end)) return (complete, new ConsoleCursor(start + end, false));
        return lines.AllConsumed is (var allEnd, var midLine) ? (lines.All, new ConsoleCursor(start + allEnd, midLine)) : null;
    }
}
