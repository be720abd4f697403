namespace VirtShell.Engine.Buses;

public interface IMmioDevice
{
    ulong ReadMmio(ulong address, int size);
    void WriteMmio(ulong address, int size, ulong value);
}

/// <summary>Physical address ranges that are not RAM but a device's registers.</summary>
public sealed class MmioBus
{
    private readonly List<(BusClaim Claim, IMmioDevice Device)> _ranges = [];

    public IEnumerable<BusClaim> Claims => _ranges.Select(r => r.Claim);

    public void Register(ulong start, ulong length, IMmioDevice device, string owner)
    {
        var claim = new BusClaim(start, length, owner);
        var clash = _ranges.FirstOrDefault(r => r.Claim.Overlaps(claim)).Claim;
        if (clash != null) throw new BusConflictException(claim, clash);
        _ranges.Add((claim, device));
    }

    /// <summary>Drops <paramref name="device"/>'s claim that starts at <paramref name="start"/> (a window the guest moves).</summary>
    public void Unregister(IMmioDevice device, ulong start) =>
        _ranges.RemoveAll(r => r.Device == device && r.Claim.Start == start);

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

    public void Write(ulong address, int size, ulong value)
    {
        Interlocked.Increment(ref _accesses);
        Find(address)?.WriteMmio(address, size, value);
    }
}
