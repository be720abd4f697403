using Microsoft.Win32.SafeHandles;
using VirtShell.Engine.Native;

namespace VirtShell.Containers.Native;

/// <summary>
/// The few Linux operations .NET has no API for, made through the engine's <see cref="Libc"/>: mounts, paths
/// resolved inside a root, the child subreaper flag, waiting for an adopted child.
/// </summary>
internal static class LinuxCalls
{
    /// <summary>Opens a directory as a handle for <see cref="OpenInRoot"/> (O_PATH: no access to its contents by itself).</summary>
    public static SafeFileHandle OpenDirectory(string path)
    {
        int fd = Libc.open(path, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw Libc.Error($"open {path}");
    }

    /// <summary>
    /// openat2 with RESOLVE_IN_ROOT: <paramref name="path"/> is resolved as if <paramref name="root"/> were "/", so
    /// ".." and symlinks (absolute ones too) can never lead outside it. Returns the errno instead of a handle on failure.
    /// </summary>
    public static unsafe (SafeFileHandle? Handle, int Errno) OpenInRoot(SafeFileHandle root, string path, int flags, uint mode)
    {
        var how = new Libc.OpenHow { Flags = (ulong)(flags | Libc.O_CLOEXEC), Mode = (flags & Libc.O_CREAT) != 0 ? mode : 0, Resolve = Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS };
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        bool added = false;
        root.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = bytes)
            {
                long fd = Libc.syscall_openat2(Libc.SYS_openat2, (int)root.DangerousGetHandle(), p, &how, (nuint)sizeof(Libc.OpenHow));
                return fd >= 0 ? (new SafeFileHandle((IntPtr)fd, ownsHandle: true), 0) : (null, Libc.LastError);
            }
        }
        finally
        {
            if (added) root.DangerousRelease();
        }
    }

    /// <summary>Makes <paramref name="name"/> (one component) in the directory <paramref name="parent"/>; false if it exists.</summary>
    public static bool MakeDirectory(SafeFileHandle parent, string name, uint mode)
    {
        if (Libc.mkdirat((int)parent.DangerousGetHandle(), name, mode) == 0) return true;
        if (Libc.LastError == Libc.EEXIST) return false;
        throw Libc.Error($"mkdirat {name}");
    }

    /// <summary>
    /// Waits for an exclusive flock on <paramref name="path"/> (made if absent); disposing the handle releases it.
    /// Opened with open(2), not .NET: .NET puts a non-blocking shared flock of its own on files it opens, which would
    /// fail instead of wait while another process holds this lock.
    /// </summary>
    public static SafeFileHandle LockFile(string path)
    {
        int fd = Libc.open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0) throw Libc.Error($"open lock file {path}");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        while (Libc.flock(fd, Libc.LOCK_EX) != 0)
        {
            if (Libc.LastError == Libc.EINTR) continue;
            var error = Libc.Error($"flock {path}");
            handle.Dispose();
            throw error;
        }
        return handle;
    }

    public static void ChangeMode(SafeFileHandle file, uint mode)
    {
        if (Libc.fchmod((int)file.DangerousGetHandle(), mode) != 0) throw Libc.Error("fchmod");
    }

    /// <summary>The st_mode of an open file (type and permission bits).</summary>
    public static unsafe uint FileMode(SafeFileHandle file)
    {
        byte* stat = stackalloc byte[Libc.StatSize];
        if (Libc.fstat((int)file.DangerousGetHandle(), stat) != 0) throw Libc.Error("fstat");
        return *(uint*)(stat + Libc.StatModeOffset);
    }

    /// <summary>The st_mode of <paramref name="path"/> itself (a symlink is not followed); null when it does not exist.</summary>
    public static unsafe uint? LinkMode(string path)
    {
        byte* stat = stackalloc byte[Libc.StatSize];
        if (Libc.lstat(path, stat) == 0) return *(uint*)(stat + Libc.StatModeOffset);
        if (Libc.LastError is Libc.ENOENT or Libc.ENOTDIR) return null;
        throw Libc.Error($"lstat {path}");
    }

    /// <summary>Makes the character device <paramref name="path"/> (<paramref name="major"/>:<paramref name="minor"/>, both below 256) with exactly <paramref name="permissions"/>, whatever the umask.</summary>
    public static void MakeCharacterDevice(string path, uint major, uint minor, uint permissions)
    {
        if (Libc.mknod(path, Libc.S_IFCHR | permissions, (major << 8) | minor) != 0 || Libc.chmod(path, permissions) != 0)
            throw Libc.Error($"mknod {path}");
    }

    /// <summary>
    /// Makes this process adopt orphaned descendants, so the container's init (whose parent, <c>runc create</c>,
    /// exits right away) becomes our child and we can collect its exit status.
    /// </summary>
    public static void BecomeChildSubreaper()
    {
        const int PR_SET_CHILD_SUBREAPER = 36;
        if (Libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
            throw Libc.Error("prctl(PR_SET_CHILD_SUBREAPER)");
    }

    public static void MountOverlay(string target, string options)
    {
        if (Libc.mount("overlay", target, "overlay", 0, options) != 0)
            throw Libc.Error($"mount overlay on {target} (options {options})");
    }

    public static void MountTmpfs(string target, string options)
    {
        const nuint MS_NOSUID = 2, MS_STRICTATIME = 1 << 24;
        if (Libc.mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_STRICTATIME, options) != 0)
            throw Libc.Error($"mount tmpfs on {target} (options {options})");
    }

    /// <summary>Unmounts <paramref name="target"/>; a busy mount is detached instead (it goes once the last user leaves).</summary>
    public static void Unmount(string target)
    {
        if (Libc.umount2(target, 0) == 0) return;
        int error = Libc.LastError;
        if (error is Libc.EINVAL or Libc.ENOENT) return; // not a mount point (any more)
        if (Libc.umount2(target, Libc.MNT_DETACH) != 0 && Libc.LastError is not (Libc.EINVAL or Libc.ENOENT))
            throw Libc.Error($"umount2 {target}");
    }

    /// <summary>Blocks until child <paramref name="pid"/> ends; null when it is not our child (someone else reaped it).</summary>
    public static int? WaitForChild(int pid)
    {
        while (true)
        {
            if (Libc.waitpid(pid, out int status, 0) == pid) return status;
            int error = Libc.LastError;
            if (error == Libc.EINTR) continue;
            if (error == Libc.ECHILD) return null;
            throw Libc.Error($"waitpid({pid})", error);
        }
    }

    /// <summary>Sends SIGTERM to <paramref name="pid"/> (a runc that forwards it to the process it runs).</summary>
    public static void Terminate(int pid)
    {
        if (Libc.kill(pid, Libc.SIGTERM) != 0 && Libc.LastError != Libc.ESRCH /* already gone */)
            throw Libc.Error($"kill({pid}, SIGTERM)");
    }

    /// <summary>Reaps child <paramref name="pid"/> if it ends within <paramref name="timeout"/>; false if it is still running.</summary>
    public static bool ReapChild(int pid, TimeSpan timeout)
    {
        const int WNOHANG = 1;
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            int result = Libc.waitpid(pid, out _, WNOHANG);
            if (result == pid || (result < 0 && Libc.LastError == Libc.ECHILD)) return true;
            if (DateTime.UtcNow >= deadline) return false;
            Thread.Sleep(5);
        }
    }

    public static bool IsAlive(int pid) => Libc.kill(pid, 0) == 0 || Libc.LastError != Libc.ESRCH;

    public static bool Exited(int status) => (status & 0x7f) == 0;
    public static int ExitCode(int status) => (status >> 8) & 0xff;
    public static int TermSignal(int status) => status & 0x7f;
}
