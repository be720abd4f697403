namespace VirtShell.Models.Comparison;

/// <summary>This process's resident memory, for the overhead column.</summary>
internal static class HostMemory
{
    /// <summary>VmRSS of /proc/self/status, bytes.</summary>
    public static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException("/proc/self/status has no VmRSS line");
    }
}
