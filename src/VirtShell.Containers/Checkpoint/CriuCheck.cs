using System.Collections.Concurrent;
using VirtShell.Containers.Native;

namespace VirtShell.Containers.Checkpoint;

/// <summary>
/// Whether CRIU can checkpoint and restore here: Debian's criu, and its own <c>criu check</c> (the kernel features it
/// needs), asked once per process and binary. A failure is explained in terms of what to change where the cause is
/// known.
/// </summary>
public static class CriuCheck
{
    private static readonly ConcurrentDictionary<string, string?> Results = new();

    /// <summary>criu from PATH or /usr/sbin; null if absent.</summary>
    public static string? Find() => ChildProcess.FindProgram("criu");

    /// <summary>Null when <paramref name="criu"/> works on this host; else why not.</summary>
    public static string? UnavailableReason(string? criu) =>
        criu is null
            ? "criu is not installed (on PATH or in /usr/sbin): install Debian's criu (./build.ps1 -Task Bootstrap)"
            : Results.GetOrAdd(criu, Probe);

    /// <summary>criu's version line ("3.17.1"), or null when it cannot say.</summary>
    public static string? Version(string criu)
    {
        var (_, output) = Capture(criu, "--version");
        return output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("Version:", StringComparison.Ordinal))?["Version:".Length..].Trim();
    }

    private static string? Probe(string criu)
    {
        var (code, output) = Capture(criu, "check");
        if (code == 0) return null;
        string maps = File.Exists("/proc/self/maps") ? File.ReadAllText("/proc/self/maps") : "";
        string kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "unknown";
        return Explain(output, Version(criu) ?? "unknown", kernel, maps.Contains("[vvar_vclock]", StringComparison.Ordinal));
    }

    /// <summary>
    /// Turns <c>criu check</c>'s failure into a reason. Known: a CRIU older than the kernel's split vDSO data pages,
    /// which fails in its start-up probe before checking anything else.
    /// </summary>
    public static string Explain(string checkOutput, string criuVersion, string kernelRelease, bool kernelHasVvarVclock)
    {
        var errors = CriuLog.ErrorLines(checkOutput.Split('\n')).ToList();
        if (kernelHasVvarVclock && errors.Any(e => e.Contains("Unexpected rt vDSO area bounds", StringComparison.Ordinal)))
            return $"CRIU {criuVersion} cannot run on kernel {kernelRelease}: the kernel maps the vDSO's data as two areas, " +
                   "[vvar] and [vvar_vclock] (split in Linux 6.13, commit e93d2521b27f), and this CRIU expects the one [vvar] " +
                   "of older kernels, so its start-up probe fails before any checkpoint (criu check: 'vdso: Unexpected rt vDSO " +
                   "area bounds', 'kerndat_vdso_fill_symtable failed'). CRIU handles the split in releases after 4.0 " +
                   "(checkpoint-restore/criu pull request 2539); Debian 12 ships 3.17.1. Checkpoints need a kernel older " +
                   "than 6.13 or a newer CRIU.";
        return $"criu check failed (CRIU {criuVersion}, kernel {kernelRelease}): " +
               (errors.Count > 0 ? string.Join("; ", errors.TakeLast(4)) : checkOutput.Trim());
    }

    private static (int Code, string Output) Capture(string criu, string argument)
    {
        var (code, stdout, stderr) = ChildProcess.Capture(criu, [argument]);
        return (code, stdout + stderr);
    }
}
