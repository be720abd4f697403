using System.Runtime.InteropServices;

namespace VirtShell.Containers.Native;

/// <summary>The few Linux calls .NET has no API for: mounts, the child subreaper flag, waiting for an adopted child.</summary>
internal static partial class Libc
{
    private const int PR_SET_CHILD_SUBREAPER = 36;
    public const int MNT_DETACH = 2;
    public const int EINTR = 4;
    public const int ECHILD = 10;
    public const int EINVAL = 22;
    public const int ENOENT = 2;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string source, string target, string fstype, nuint flags, string data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int waitpid(int pid, out int status, int options);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    /// <summary>
    /// Makes this process adopt orphaned descendants, so the container's init (whose parent, <c>runc create</c>,
    /// exits right away) becomes our child and we can collect its exit status.
    /// </summary>
    public static void BecomeChildSubreaper()
    {
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
            throw new IOException($"prctl(PR_SET_CHILD_SUBREAPER) failed: {Error()}");
    }

    public static void MountOverlay(string target, string options)
    {
        if (mount("overlay", target, "overlay", 0, options) != 0)
            throw new IOException($"mounting the overlay on {target} failed: {Error()} (options {options})");
    }

    /// <summary>Unmounts <paramref name="target"/>; a busy mount is detached instead (it goes once the last user leaves).</summary>
    public static void Unmount(string target)
    {
        if (umount2(target, 0) == 0) return;
        int error = Marshal.GetLastPInvokeError();
        if (error is EINVAL or ENOENT) return; // not a mount point (any more)
        if (umount2(target, MNT_DETACH) != 0 && Marshal.GetLastPInvokeError() is not (EINVAL or ENOENT))
            throw new IOException($"unmounting {target} failed: {Error()}");
    }

    /// <summary>Blocks until child <paramref name="pid"/> ends; null when it is not our child (someone else reaped it).</summary>
    public static int? WaitForChild(int pid)
    {
        while (true)
        {
            if (waitpid(pid, out int status, 0) == pid) return status;
            int error = Marshal.GetLastPInvokeError();
            if (error == EINTR) continue;
            if (error == ECHILD) return null;
            throw new IOException($"waitpid({pid}) failed: {Error()}");
        }
    }

    /// <summary>Sends SIGTERM to <paramref name="pid"/> (a runc that forwards it to the process it runs).</summary>
    public static void Terminate(int pid)
    {
        if (kill(pid, 15) != 0 && Marshal.GetLastPInvokeError() != 3 /* ESRCH: already gone */)
            throw new IOException($"kill({pid}, SIGTERM) failed: {Error()}");
    }

    public static bool IsAlive(int pid) => kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() != 3 /* ESRCH */;

    public static bool Exited(int status) => (status & 0x7f) == 0;
    public static int ExitCode(int status) => (status >> 8) & 0xff;
    public static int TermSignal(int status) => status & 0x7f;

    private static string Error() => Marshal.GetLastPInvokeErrorMessage();
}
