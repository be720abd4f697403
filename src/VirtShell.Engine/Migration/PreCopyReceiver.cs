using VirtShell.Engine.Memory;
using VirtShell.Engine.State;

namespace VirtShell.Engine.Migration;

/// <summary>
/// The receiving side of a pre-copy: the RAM of a machine built from the same definition and not run, filled piece by
/// piece while the source runs. It starts all zeros (what the fresh machine's loaders wrote is cleared), as the
/// first round sends only pages that are not.
/// </summary>
public sealed class PreCopyReceiver
{
    private readonly GuestMemory _memory;

    /// <summary>Clears <paramref name="memory"/> for the first piece.</summary>
    public PreCopyReceiver(GuestMemory memory)
    {
        _memory = memory;
        foreach (var block in memory.Blocks) MemoryState.ClearUnsaved(block, new bool[block.Size / MemoryBlock.PageSize]);
    }

    /// <summary>Pieces applied so far.</summary>
    public int Pieces { get; private set; }

    /// <summary>Applies one piece of the stream, in the order the sender made them.</summary>
    /// <exception cref="StateFormatException">The piece is damaged or does not fit this machine's RAM.</exception>
    public void Apply(ReadOnlyMemory<byte> piece)
    {
        MemoryDelta.Apply(_memory, piece);
        Pieces++;
    }
}
