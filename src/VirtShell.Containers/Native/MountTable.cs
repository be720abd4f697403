namespace VirtShell.Containers.Native;

/// <summary>This process's mount table (/proc/self/mountinfo).</summary>
internal static class MountTable
{
    /// <summary>Whether <paramref name="path"/> is a mount point in this process's mount namespace.</summary>
    public static bool IsMounted(string path)
    {
        string full = Path.GetFullPath(path).TrimEnd('/');
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // Field 5 is the mount point, with space, tab, newline and backslash escaped as octal.
            var fields = line.Split(' ');
            if (fields.Length > 4 && Unescape(fields[4]) == full) return true;
        }
        return false;
    }

    /// <summary>Unmounts <paramref name="path"/> until nothing is mounted there: stacked mounts (one left by a dead engine under a fresh one) come off one per call.</summary>
    public static void UnmountAll(string path)
    {
        for (int i = 0; i < 8 && IsMounted(path); i++) LinuxCalls.Unmount(path);
    }

    private static string Unescape(string field) =>
        field.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");
}
