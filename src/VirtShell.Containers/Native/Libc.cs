using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

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
    public const int ENOTDIR = 20;

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

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdirat(int dirfd, string path, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int fstat(int fd, byte* stat);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int lstat(string path, byte* stat);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mknod(string path, uint mode, ulong device);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod(string path, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long syscall_openat2(long number, int dirfd, byte* path, OpenHow* how, nuint size);

    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    private const long SYS_openat2 = 437;
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_TRUNC = 0x200, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000, O_PATH = 0x200000;
    private const ulong RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_IN_ROOT = 0x10;
    public const int EEXIST = 17;

    /// <summary>Opens a directory as a handle for <see cref="OpenInRoot"/> (O_PATH: no access to its contents by itself).</summary>
    public static SafeFileHandle OpenDirectory(string path)
    {
        int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw new IOException($"opening {path} failed: {Error()}");
    }

    /// <summary>
    /// openat2 with RESOLVE_IN_ROOT: <paramref name="path"/> is resolved as if <paramref name="root"/> were "/", so
    /// ".." and symlinks (absolute ones too) can never lead outside it. Returns the errno instead of a handle on failure.
    /// </summary>
    public static unsafe (SafeFileHandle? Handle, int Errno) OpenInRoot(SafeFileHandle root, string path, int flags, uint mode)
    {
        var how = new OpenHow { Flags = (ulong)(flags | O_CLOEXEC), Mode = (flags & O_CREAT) != 0 ? mode : 0, Resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        bool added = false;
        root.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = bytes)
            {
                long fd = syscall_openat2(SYS_openat2, (int)root.DangerousGetHandle(), p, &how, (nuint)sizeof(OpenHow));
                return fd >= 0 ? (new SafeFileHandle((IntPtr)fd, ownsHandle: true), 0) : (null, Marshal.GetLastPInvokeError());
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
        if (mkdirat((int)parent.DangerousGetHandle(), name, mode) == 0) return true;
        if (Marshal.GetLastPInvokeError() == EEXIST) return false;
        throw new IOException($"creating directory '{name}' failed: {Error()}");
    }

    /// <summary>
    /// Waits for an exclusive flock on <paramref name="path"/> (made if absent); disposing the handle releases it.
    /// Opened with open(2), not .NET: .NET puts a non-blocking shared flock of its own on files it opens, which would
    /// fail instead of wait while another process holds this lock.
    /// </summary>
    public static SafeFileHandle LockFile(string path)
    {
        const int LOCK_EX = 2;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0) throw new IOException($"opening lock file {path} failed: {Error()}");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        while (flock(fd, LOCK_EX) != 0)
        {
            if (Marshal.GetLastPInvokeError() == EINTR) continue;
            string error = Error();
            handle.Dispose();
            throw new IOException($"locking {path} failed: {error}");
        }
        return handle;
    }

    public static void ChangeMode(SafeFileHandle file, uint mode)
    {
        if (fchmod((int)file.DangerousGetHandle(), mode) != 0) throw new IOException($"fchmod failed: {Error()}");
    }

    private const int StatSize = 144, ModeOffset = 24; // struct stat on x86-64: st_dev, st_ino, st_nlink, then st_mode
    public const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFCHR = 0x2000, S_IFBLK = 0x6000, S_IFREG = 0x8000, S_IFLNK = 0xA000;

    /// <summary>The st_mode of an open file (type and permission bits).</summary>
    public static unsafe uint FileMode(SafeFileHandle file)
    {
        byte* stat = stackalloc byte[StatSize];
        if (fstat((int)file.DangerousGetHandle(), stat) != 0) throw new IOException($"fstat failed: {Error()}");
        return *(uint*)(stat + ModeOffset);
    }

    /// <summary>The st_mode of <paramref name="path"/> itself (a symlink is not followed); null when it does not exist.</summary>
    public static unsafe uint? LinkMode(string path)
    {
        byte* stat = stackalloc byte[StatSize];
        if (lstat(path, stat) == 0) return *(uint*)(stat + ModeOffset);
        if (Marshal.GetLastPInvokeError() is ENOENT or ENOTDIR) return null;
        throw new IOException($"lstat {path} failed: {Error()}");
    }

    /// <summary>Makes the character device <paramref name="path"/> (<paramref name="major"/>:<paramref name="minor"/>, both below 256) with exactly <paramref name="permissions"/>, whatever the umask.</summary>
    public static void MakeCharacterDevice(string path, uint major, uint minor, uint permissions)
    {
        if (mknod(path, S_IFCHR | permissions, (major << 8) | minor) != 0 || chmod(path, permissions) != 0)
            throw new IOException($"mknod {path} failed: {Error()}");
    }

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

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

    public static void MountTmpfs(string target, string options)
    {
        const nuint MS_NOSUID = 2, MS_STRICTATIME = 1 << 24;
        if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_STRICTATIME, options) != 0)
            throw new IOException($"mounting a tmpfs on {target} failed: {Error()} (options {options})");
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

    /// <summary>Reaps child <paramref name="pid"/> if it ends within <paramref name="timeout"/>; false if it is still running.</summary>
    public static bool ReapChild(int pid, TimeSpan timeout)
    {
        const int WNOHANG = 1;
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            int result = waitpid(pid, out _, WNOHANG);
            if (result == pid || (result < 0 && Marshal.GetLastPInvokeError() == ECHILD)) return true;
            if (DateTime.UtcNow >= deadline) return false;
            Thread.Sleep(5);
        }
    }

    public static bool IsAlive(int pid) => kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() != 3 /* ESRCH */;

    public static bool Exited(int status) => (status & 0x7f) == 0;
    public static int ExitCode(int status) => (status >> 8) & 0xff;
    public static int TermSignal(int status) => status & 0x7f;

    private static string Error() => Marshal.GetLastPInvokeErrorMessage();
}
