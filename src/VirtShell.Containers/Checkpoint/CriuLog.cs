namespace VirtShell.Containers.Checkpoint;

/// <summary>CRIU's own log (dump.log, restore.log), read for the lines that say why it failed.</summary>
public static class CriuLog
{
    /// <summary>The last few "Error (file:line): ..." lines of <paramref name="path"/>, joined; null when there are none.</summary>
    public static string? LastErrors(string path, int count = 3)
    {
        if (!File.Exists(path)) return null;
        var errors = ErrorLines(File.ReadLines(path)).TakeLast(count).ToList();
        return errors.Count > 0 ? string.Join("; ", errors) : null;
    }

    /// <summary>
    /// CRIU's "Error (file:line): ..." lines, without the log's time stamp, leaving out the failed iptables/nft probes
    /// ("exited, status=1"), which CRIU reports as errors but which do not stop it.
    /// </summary>
    public static IEnumerable<string> ErrorLines(IEnumerable<string> lines) => lines
        .Select(l => l.Trim())
        .Select(l => l.StartsWith('(') && l.IndexOf(')') is var end and > 0 ? l[(end + 1)..].Trim() : l)
        .Where(l => l.StartsWith("Error", StringComparison.Ordinal) && !l.Contains("exited, status=", StringComparison.Ordinal));
}
