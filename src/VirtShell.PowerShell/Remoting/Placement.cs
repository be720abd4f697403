using System.Management.Automation;
using System.Management.Automation.Runspaces;
using VirtShell.Engine.Definitions;

namespace VirtShell.PowerShell.Remoting;

/// <summary>What a host offers a new machine, as it answered the survey.</summary>
internal sealed record HostOffer(PSSession Session, IReadOnlyDictionary<string, string?> UnavailableModels, ISet<string> AvailableModels,
    long FreeBytes, ISet<string> MachineNames)
{
    public string Name => Session.ComputerName;
}

/// <summary>
/// Chooses a host for each new machine among the sessions New-VirtMachine was given. A host fits when its model is
/// available there (KVM, runc: Get-VirtModel's answer), no machine there has the name, and its free memory
/// (MemAvailable, less the machines placed on it by this command) holds the machine's memory. Among those, the one
/// with the fewest machines (already there and placed by this command) wins, then the one with the most free memory,
/// so machines spread over the hosts.
/// </summary>
internal sealed class Placement
{
    /// <summary>Run on each host: its models, free memory and machine names.</summary>
    private const string Survey = """
        $free = 0L
        foreach ($line in [IO.File]::ReadLines('/proc/meminfo')) { if ($line -match '^MemAvailable:\s+(\d+) kB') { $free = [long]$Matches[1] * 1024 } }
        [pscustomobject]@{
            Models = @(Get-VirtModel | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Available = $_.Available; Reason = $_.Reason } })
            FreeBytes = $free
            Machines = @(Get-VirtMachine | ForEach-Object Name)
        }
        """;

    private readonly List<HostOffer> _hosts = [];
    private readonly Dictionary<HostOffer, long> _placedBytes = [];

    /// <summary>Asks every session at once; hosts that do not answer are reported through <paramref name="cmdlet"/> and left out.</summary>
    public static Placement Ask(PSCmdlet cmdlet, RemoteCommand remote, IReadOnlyList<PSSession> sessions)
    {
        var placement = new Placement();
        foreach (var answer in remote.RunScript(sessions, Survey, new Dictionary<string, object?>()))
        {
            foreach (var error in answer.Errors) cmdlet.WriteError(error);
            if (answer.Output.FirstOrDefault() is not { } survey) continue;
            var available = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var unavailable = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (var model in Items(survey.Properties["Models"].Value))
            {
                string name = (string)model.Properties["Name"].Value;
                if (model.Properties["Available"].Value is true) available.Add(name);
                else unavailable[name] = model.Properties["Reason"].Value as string;
            }
            var names = new HashSet<string>(Items(survey.Properties["Machines"].Value).Select(m => m.BaseObject.ToString()!), StringComparer.Ordinal);
            placement._hosts.Add(new HostOffer(answer.Session, unavailable, available, Convert.ToInt64(survey.Properties["FreeBytes"].Value), names));
        }
        return placement;
    }

    /// <summary>The host for a machine of <paramref name="spec"/>, named <paramref name="name"/>, and why; or null and why none fits.</summary>
    public (HostOffer? Host, string Why) Choose(MachineSpec spec, string name)
    {
        var reasons = new List<string>();
        HostOffer? best = null;
        foreach (var host in _hosts)
        {
            long free = Free(host);
            if (!host.AvailableModels.Contains(spec.Model))
                reasons.Add($"host {host.Name}: model '{spec.Model}' is not available there{(host.UnavailableModels.GetValueOrDefault(spec.Model) is { } r ? $" ({r})" : "")}");
            else if (host.MachineNames.Contains(name))
                reasons.Add($"host {host.Name}: it has a machine named '{name}'");
            else if (free < (long)spec.MemoryBytes)
                reasons.Add($"host {host.Name}: {Mib(free)} free, the machine needs {Mib((long)spec.MemoryBytes)}");
            else if (best is null || Better(host, best)) best = host;
        }
        if (best is null) return (null, string.Join("; ", reasons));
        string why = $"model '{spec.Model}' available, {Mib(Free(best))} free, {best.MachineNames.Count} {(best.MachineNames.Count == 1 ? "machine" : "machines")} there";
        return (best, why);
    }

    /// <summary>Counts a machine placed on <paramref name="host"/>, so the next choice sees it.</summary>
    public void Placed(HostOffer host, MachineSpec spec, string name)
    {
        _placedBytes[host] = _placedBytes.GetValueOrDefault(host) + (long)spec.MemoryBytes;
        host.MachineNames.Add(name);
    }

    public int HostCount => _hosts.Count;

    /// <summary>Machine names include those placed by this command.</summary>
    private bool Better(HostOffer candidate, HostOffer best) =>
        candidate.MachineNames.Count != best.MachineNames.Count
            ? candidate.MachineNames.Count < best.MachineNames.Count
            : Free(candidate) > Free(best);

    private long Free(HostOffer host) => host.FreeBytes - _placedBytes.GetValueOrDefault(host);

    private static string Mib(long bytes) => $"{bytes / (1024 * 1024)} MiB";

    private static IEnumerable<PSObject> Items(object? value) => value switch
    {
        PSObject { BaseObject: System.Collections.IEnumerable items } => items.Cast<object>().Select(PSObject.AsPSObject),
        System.Collections.IEnumerable items and not string => items.Cast<object>().Select(PSObject.AsPSObject),
        null => [],
        _ => [PSObject.AsPSObject(value)],
    };
}
