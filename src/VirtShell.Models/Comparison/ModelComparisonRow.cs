namespace VirtShell.Models.Comparison;

/// <summary>
/// One model in Compare-VirtModel's table: the seed table's columns, then what this host measured. A measure that
/// could not be taken is null, and the note says why; an unavailable model has only the reason.
/// </summary>
public sealed record ModelComparisonRow
{
    public required string Model { get; init; }
    public string? Technique { get; init; }
    public bool Available { get; init; }
    public string? Reason { get; init; }
    public string? HowItWorks { get; init; }
    public string? TypicalUse { get; init; }
    public string? GuestChanges { get; init; }
    public string? Examples { get; init; }
    /// <summary>Start request to the guest's first console byte, seconds (median of the runs).</summary>
    public double? StartSeconds { get; init; }
    /// <summary>Guest instructions per microsecond on the ring-3 loop.</summary>
    public double? CpuMips { get; init; }
    /// <summary>One guest-to-host I/O round trip: port exit, virtio notify or pipe write, microseconds.</summary>
    public double? IoRoundTripMicroseconds { get; init; }
    /// <summary>Console throughput, 10^6 bytes per second.</summary>
    public double? BulkIoMBps { get; init; }
    /// <summary>What running the machine added to the host's resident memory beyond the guest's own RAM, MiB.</summary>
    public double? MemoryOverheadMiB { get; init; }
    /// <summary>Whether the guests that ran had to be written for this model.</summary>
    public bool? GuestAdapted { get; init; }
    /// <summary>What was measured and how, and any measure that failed.</summary>
    public string Note { get; init; } = "";
}
