namespace VirtShell.Engine.Buses;

/// <summary>A device that answers 8/16/32-bit port accesses. <c>port</c> is the absolute port number.</summary>
public interface IPortDevice
{
    /// <summary>The value read, in the low <paramref name="size"/> bytes (1, 2 or 4).</summary>
    uint ReadPort(ushort port, int size);
    /// <summary>
    /// Takes a write of the low <paramref name="size"/> bytes (1, 2 or 4) of <paramref name="value"/>.
    /// </summary>
    void WritePort(ushort port, int size, uint value);
}

/// <summary>
/// The 16-bit I/O port space. Both CPU backends deliver every IN/OUT here; a device never knows which backend
/// runs the CPU. Claims may not overlap; an overlap is a definition error reported before boot.
/// </summary>
public sealed class IoPortBus
{
    private readonly IPortDevice?[] _byPort = new IPortDevice?[65536];
    private readonly List<BusClaim> _claims = [];
    private readonly List<IPortDevice> _devices = [];

    /// <summary>The claimed ranges, in registration order.</summary>
    public IReadOnlyList<BusClaim> Claims => _claims;

    /// <summary>Each claim with the device that answers it, in registration order (a saved state walks them).</summary>
    public IEnumerable<(BusClaim Claim, IPortDevice Device)> Devices => _claims.Zip(_devices);

    /// <summary>Routes <paramref name="count"/> ports from <paramref name="first"/> to <paramref name="device"/>; <paramref name="owner"/> names it in errors.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty or runs past port FFFF.</exception>
    /// <exception cref="BusConflictException">The range overlaps a claimed one.</exception>
    public void Register(ushort first, int count, IPortDevice device, string owner)
    {
        if (count <= 0 || first + count > 65536)
            throw new ArgumentOutOfRangeException(nameof(count), $"{owner}: ports 0x{first:x}+{count} are outside the 16-bit port space");
        Register(new BusClaim(first, (ulong)count, owner), device);
    }

    /// <summary>Routes the ports of <paramref name="claim"/> to <paramref name="device"/>. Register before the CPU runs: not synchronised with accesses.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty or runs past port FFFF.</exception>
    /// <exception cref="BusConflictException">The range overlaps a claimed one.</exception>
    public void Register(BusClaim claim, IPortDevice device)
    {
        if (claim.Length == 0 || claim.End > 65536)
            throw new ArgumentOutOfRangeException(nameof(claim), $"{claim.Owner}: ports 0x{claim.Start:x}+{claim.Length} are outside the 16-bit port space");
        var clash = _claims.FirstOrDefault(c => c.Overlaps(claim));
        if (clash != null) throw new BusConflictException(claim, clash);
        _claims.Add(claim);
        _devices.Add(device);
        for (int p = (int)claim.Start; p < (int)claim.End; p++) _byPort[p] = device;
    }

    private long _accesses;

    /// <summary>Reads and writes so far, claimed ports or not: each one left the guest CPU for this process.</summary>
    public long Accesses => Interlocked.Read(ref _accesses);

    /// <summary>Unclaimed ports read as all ones, as on an ISA bus with nothing driving it.</summary>
    public uint Read(ushort port, int size)
    {
        Interlocked.Increment(ref _accesses);
        var d = _byPort[port];
        return d != null ? d.ReadPort(port, size) : size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => 0xFFFF_FFFFu };
    }

    /// <summary>Writes to unclaimed ports are dropped.</summary>
    public void Write(ushort port, int size, uint value)
    {
        Interlocked.Increment(ref _accesses);
        _byPort[port]?.WritePort(port, size, value);
    }
}
