namespace VirtShell.Engine.Buses;

/// <summary>A range of ports or physical addresses that one device answers.</summary>
public sealed record BusClaim(ulong Start, ulong Length, string Owner)
{
    public ulong End => Start + Length;
    public bool Overlaps(BusClaim other) => Start < other.End && other.Start < End;
    public override string ToString() => $"0x{Start:x}-0x{End - 1:x} ({Owner})";
}

public sealed class BusConflictException(BusClaim claim, BusClaim existing)
    : Exception($"{claim.Owner} claims 0x{claim.Start:x}-0x{claim.End - 1:x}, which overlaps {existing.Owner} at 0x{existing.Start:x}-0x{existing.End - 1:x}")
{
    public BusClaim Claim { get; } = claim;
    public BusClaim Existing { get; } = existing;
}
