namespace VirtShell.Engine.Buses;

/// <summary>
/// A device with memory-mapped registers. <c>address</c> is the absolute guest-physical address, <c>size</c> the access
/// width in bytes (1, 2, 4 or 8); called on the vCPU thread.
/// </summary>
public interface IMmioDevice
{
    /// <summary>The value read, in the low <paramref name="size"/> bytes.</summary>
    ulong ReadMmio(ulong address, int size);
    /// <summary>Takes a write of the low <paramref name="size"/> bytes of <paramref name="value"/>.</summary>
    void WriteMmio(ulong address, int size, ulong value);
}

/// <summary>Physical address ranges that are not RAM but a device's registers.</summary>
public sealed class MmioBus
{
    private readonly List<(BusClaim Claim, IMmioDevice Device)> _ranges = [];

    /// <summary>The claimed ranges, in registration order.</summary>
    public IEnumerable<BusClaim> Claims => _ranges.Select(r => r.Claim);

    /// <summary>Each claim with the device that answers it, in registration order (a saved state walks them).</summary>
    public IReadOnlyList<(BusClaim Claim, IMmioDevice Device)> Devices => [.. _ranges];

    /// <summary>
    /// Routes <paramref name="length"/> bytes at <paramref name="start"/> to <paramref name="device"/>; <paramref name="owner"/>
    /// names it in errors. Not synchronised with accesses: register while building the machine or on the vCPU thread.
    /// </summary>
    /// <exception cref="BusConflictException">The range overlaps a claimed one.</exception>
    public void Register(ulong start, ulong length, IMmioDevice device, string owner) =>
        Register(new BusClaim(start, length, owner), device);

    /// <summary>Routes the range of <paramref name="claim"/> to <paramref name="device"/>, as the other overload does.</summary>
    /// <exception cref="BusConflictException">The range overlaps a claimed one.</exception>
    public void Register(BusClaim claim, IMmioDevice device)
    {
        var clash = _ranges.FirstOrDefault(r => r.Claim.Overlaps(claim)).Claim;
        if (clash != null) throw new BusConflictException(claim, clash);
        _ranges.Add((claim, device));
    }

    /// <summary>Drops <paramref name="device"/>'s claim that starts at <paramref name="start"/> (a window the guest moves).</summary>
    public void Unregister(IMmioDevice device, ulong start) =>
        _ranges.RemoveAll(r => r.Device == device && r.Claim.Start == start);

    /// <summary>The device whose claim holds <paramref name="address"/>, or null.</summary>
    public IMmioDevice? Find(ulong address)
    {
        foreach (var (c, d) in _ranges)
            if (address >= c.Start && address - c.Start < c.Length) return d;
        return null;
    }

    private long _accesses;

    /// <summary>Reads and writes through this bus so far, claimed addresses or not.</summary>
    public long Accesses => Interlocked.Read(ref _accesses);

    /// <summary>Unclaimed addresses read as all ones and ignore writes.</summary>
    public ulong Read(ulong address, int size)
    {
        Interlocked.Increment(ref _accesses);
        return Find(address)?.ReadMmio(address, size) ?? (size >= 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1);
    }

    /// <summary>Writes to unclaimed addresses are dropped.</summary>
    public void Write(ulong address, int size, ulong value)
    {
        Interlocked.Increment(ref _accesses);
        Find(address)?.WriteMmio(address, size, value);
    }
}
