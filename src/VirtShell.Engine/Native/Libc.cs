using System.Runtime.InteropServices;

namespace VirtShell.Engine.Native;

/// <summary>
/// Every libc call VirtShell makes, under its C name, for all layers: guest memory and KVM's mappings, files and
/// locks, mounts and child processes for containers, clocks and signals. A failed call is reported one way:
/// <see cref="Error(string)"/> (or <see cref="Failure"/> for layers with exceptions of their own) names the call and
/// gives strerror's text with the errno.
/// </summary>
public static unsafe partial class Libc
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, E2BIG = 7, ECHILD = 10, EAGAIN = 11, EWOULDBLOCK = EAGAIN,
        EACCES = 13, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EROFS = 30;

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_TRUNC = 0x200, O_DIRECTORY = 0x10000,
        O_CLOEXEC = 0x80000, O_PATH = 0x200000;

    public const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public const int MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    public static readonly nint MAP_FAILED = -1;

    public const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
    public const int MNT_DETACH = 2;
    public const int SIGTERM = 15;

    /// <summary>struct stat on x86-64: st_dev, st_ino, st_nlink (8 bytes each), st_mode at 24; st_size at 48.</summary>
    public const int StatSize = 144, StatModeOffset = 24, StatSizeOffset = 48;
    public const uint S_IFMT = 0xF000, S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFDIR = 0x4000, S_IFBLK = 0x6000,
        S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFSOCK = 0xC000;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    // ioctl is variadic in C; on x86-64 an integer or pointer third argument is passed exactly like a fixed one.
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, nint argument);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int stat(string path, byte* buffer);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int lstat(string path, byte* buffer);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fstat(int fd, byte* buffer);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int link(string oldPath, string newPath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(int dirfd, string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mknod(string path, uint mode, ulong device);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chmod(string path, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string source, string target, string fstype, nuint flags, string data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    /// <summary>openat2(2), which glibc has no wrapper for, through syscall(2).</summary>
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    public static partial long syscall_openat2(long number, int dirfd, byte* path, OpenHow* how, nuint size);

    public const long SYS_openat2 = 437;
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_IN_ROOT = 0x10;

    public struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(nint addr, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int mprotect(nint addr, nuint length, int prot);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int mincore(nint addr, nuint length, byte* vector);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int waitpid(int pid, out int status, int options);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport("libc")]
    public static partial nuint pthread_self();

    /// <summary>Returns an error number (not -1 and errno), as every pthread call does.</summary>
    [LibraryImport("libc")]
    public static partial int pthread_kill(nuint thread, int signal);

    /// <summary>Returns an error number (not -1 and errno), as every pthread call does.</summary>
    [LibraryImport("libc")]
    public static partial int pthread_getcpuclockid(nuint thread, out int clock);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sigaction(int signal, SigAction* action, SigAction* old);

    [LibraryImport("libc")]
    public static partial int __libc_current_sigrtmin();

    [LibraryImport("libc")]
    public static partial int __libc_current_sigrtmax();

    [LibraryImport("libc")]
    public static partial int clock_gettime(int clock, out Timespec time);

    [LibraryImport("libc")]
    public static partial int nanosleep(in Timespec request, nint remaining);

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds, Nanoseconds;
    }

    /// <summary>glibc's struct sigaction on x86-64 (glibc adds SA_RESTORER and its restorer itself).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SigAction
    {
        public nint Handler;
        public fixed ulong Mask[16];
        public int Flags;
        public nint Restorer;
    }

    /// <summary>The errno of the last call above that failed on this thread.</summary>
    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>strerror's text with the number: "No such file or directory (errno 2)".</summary>
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    /// <summary>
    /// The one message for a failed call: "<paramref name="call"/> failed: strerror (errno n)". The call says what
    /// was asked, with the arguments that matter ("mount overlay on /x").
    /// </summary>
    public static string Failure(string call, int errno) => $"{call} failed: {Describe(errno)}";

    /// <summary>An <see cref="IOException"/> for the call that just failed on this thread, worded by <see cref="Failure"/>.</summary>
    public static IOException Error(string call) => Error(call, LastError);

    public static IOException Error(string call, int errno) => new(Failure(call, errno));
}
