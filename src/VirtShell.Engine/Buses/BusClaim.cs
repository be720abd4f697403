namespace VirtShell.Engine.Buses;

/// <summary>A range of ports or physical addresses that one device answers.</summary>
public sealed record BusClaim(ulong Start, ulong Length, string Owner)
{
    /// <summary>The first port or address after the range.</summary>
    public ulong End => Start + Length;
    /// <summary>Whether the two ranges share a port or address.</summary>
    public bool Overlaps(BusClaim other) => Start < other.End && other.Start < End;
    /// <summary>"0xstart-0xlast (owner)", for messages.</summary>
    public override string ToString() => $"0x{Start:x}-0x{End - 1:x} ({Owner})";
}

/// <summary>Two devices claim overlapping ports or addresses: a definition error, found while the machine is built.</summary>
/// <param name="claim">The claim being made.</param>
/// <param name="existing">The claim it overlaps.</param>
public sealed class BusConflictException(BusClaim claim, BusClaim existing)
    : Exception($"{claim.Owner} claims 0x{claim.Start:x}-0x{claim.End - 1:x}, which overlaps {existing.Owner} at 0x{existing.Start:x}-0x{existing.End - 1:x}")
{
    /// <summary>The claim being made.</summary>
    public BusClaim Claim { get; } = claim;
    /// <summary>The claim already there that it overlaps.</summary>
    public BusClaim Existing { get; } = existing;
}
