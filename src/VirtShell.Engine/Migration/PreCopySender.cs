using VirtShell.Engine.Memory;
using VirtShell.Engine.State;

namespace VirtShell.Engine.Migration;

/// <summary>When the live rounds of a pre-copy end and the machine is paused for the last one.</summary>
/// <param name="SmallEnough">Stop once no more pages than this are left dirty: sending them is the downtime.</param>
/// <param name="MaxRounds">Stop after this many rounds whatever is left (a guest that writes faster than the link).</param>
/// <param name="PieceBytes">About how many bytes of pages go in one piece of the stream.</param>
public sealed record PreCopyLimits(int SmallEnough = 256, int MaxRounds = 8, int PieceBytes = 4 << 20);

/// <summary>
/// What pausing for the last round gives at once, to spare a round trip per piece in the downtime: the rounds so far
/// (the last one too when <paramref name="More"/> is false), and the first pieces of the last round framed as in the
/// stream file (<see cref="PreCopyStream.Frame"/>), the rest to be taken piece by piece when <paramref name="More"/>.
/// </summary>
public sealed record PreCopyPause(PreCopyRound[] Rounds, byte[] StreamBytes, bool More);

/// <summary>One round of a pre-copy: how many pages it sent, in how many bytes, and whether the machine ran meanwhile.</summary>
public sealed record PreCopyRound(int Number, int Pages, long Bytes, bool Live);

/// <summary>
/// The sending side of a pre-copy migration of a running machine's RAM. Round 1 sends every page that is not zero
/// while the guest runs, with a dirty log started first; each later round sends the pages written during the one
/// before. The live rounds end when the pages left are few (<see cref="PreCopyLimits.SmallEnough"/>), when a round
/// did not shrink the set, or at <see cref="PreCopyLimits.MaxRounds"/>; then the caller pauses the machine and takes
/// <see cref="FinalPieces"/>: what is still dirty, after which the destination's RAM equals the source's.
/// Pull <see cref="NextPiece"/> until it returns null, pause, take <see cref="FinalPieces"/>, send the device state.
/// </summary>
public sealed class PreCopySender : IDisposable
{
    private readonly GuestMemory _memory;
    private readonly IDirtyPageTracking _tracking;
    private readonly PreCopyLimits _limits;
    private readonly List<PreCopyRound> _rounds = [];
    private IEnumerator<byte[]>? _round;
    private int _roundPages;
    private long _roundBytes;
    private IReadOnlyList<ulong>? _left;
    private bool _live = true, _stopped;

    /// <summary>Starts the dirty log; the first <see cref="NextPiece"/> begins round 1.</summary>
    public PreCopySender(GuestMemory memory, IDirtyPageTracking tracking, PreCopyLimits? limits = null)
    {
        _memory = memory;
        _tracking = tracking;
        _limits = limits ?? new PreCopyLimits();
        _tracking.StartDirtyTracking();
        var firstRound = new List<ulong>();
        foreach (var block in memory.Blocks)
            foreach (var (first, count) in MemoryState.NonZeroRuns(block))
                for (int p = first; p < first + count; p++) firstRound.Add(block.GuestAddress / MemoryBlock.PageSize + (ulong)p);
        Begin(firstRound);
    }

    /// <summary>The rounds sent so far, the last one included once <see cref="FinalPieces"/> has been taken.</summary>
    public IReadOnlyList<PreCopyRound> Rounds => _rounds;

    /// <summary>The next piece of the live rounds, or null once they are over and the machine is to be paused.</summary>
    public byte[]? NextPiece()
    {
        while (_live)
        {
            if (_round!.MoveNext())
            {
                _roundBytes += _round.Current.Length;
                return _round.Current;
            }
            EndRound(live: true);
            var dirty = _tracking.CollectDirtyPages();
            int previous = _rounds[^1].Pages;
            if (dirty.Count <= _limits.SmallEnough || dirty.Count >= previous || _rounds.Count >= _limits.MaxRounds)
            {
                _left = dirty;
                _live = false;
                return null;
            }
            Begin(dirty);
        }
        return null;
    }

    /// <summary>
    /// With the machine paused after <see cref="NextPiece"/> returned null: the pages written since the last live
    /// round, the log stopped. What the caller sends after it (CPU and devices) completes the machine.
    /// </summary>
    public IEnumerable<byte[]> FinalPieces()
    {
        if (_live) throw new InvalidOperationException("the live rounds are not over: call NextPiece until it returns null");
        var pages = new SortedSet<ulong>(_left!);
        pages.UnionWith(_tracking.CollectDirtyPages());
        Stop();
        Begin([.. pages]);
        while (_round!.MoveNext())
        {
            _roundBytes += _round.Current.Length;
            yield return _round.Current;
        }
        EndRound(live: false);
    }

    private void Begin(IReadOnlyList<ulong> pages)
    {
        _round = MemoryDelta.Encode(_memory, pages, _limits.PieceBytes).GetEnumerator();
        _roundPages = pages.Count;
        _roundBytes = 0;
    }

    private void EndRound(bool live) => _rounds.Add(new PreCopyRound(_rounds.Count + 1, _roundPages, _roundBytes, live));

    private void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        _tracking.StopDirtyTracking();
    }

    /// <summary>Stops the dirty log if the migration ended early.</summary>
    public void Dispose() => Stop();
}
