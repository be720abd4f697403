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
    /// <summary>errno values (Linux x86-64) the layers test for.</summary>
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, E2BIG = 7, ECHILD = 10, EAGAIN = 11, EWOULDBLOCK = EAGAIN,
        EACCES = 13, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EROFS = 30;

    /// <summary>open(2) flags.</summary>
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_TRUNC = 0x200, O_APPEND = 0x400, O_DIRECTORY = 0x10000,
        O_CLOEXEC = 0x80000, O_PATH = 0x200000;

    /// <summary>mmap(2)/mprotect(2) protections.</summary>
    public const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    /// <summary>mmap(2) flags.</summary>
    public const int MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_32BIT = 0x40, MAP_NORESERVE = 0x4000;
    /// <summary>What mmap(2) returns on failure, instead of a null pointer.</summary>
    public static readonly nint MAP_FAILED = -1;

    /// <summary>flock(2) operations.</summary>
    public const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
    /// <summary>umount2(2) flag: detach now, free when no longer busy.</summary>
    public const int MNT_DETACH = 2;
    /// <summary>Signal number for a polite stop.</summary>
    public const int SIGTERM = 15;

    /// <summary>struct stat on x86-64: st_dev, st_ino, st_nlink (8 bytes each), st_mode at 24, st_uid at 28; st_size at 48.</summary>
    public const int StatSize = 144, StatModeOffset = 24, StatUidOffset = 28, StatSizeOffset = 48;
    /// <summary>st_mode file-type mask and types.</summary>
    public const uint S_IFMT = 0xF000, S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFDIR = 0x4000, S_IFBLK = 0x6000,
        S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFSOCK = 0xC000;

    /// <summary>open(2): a file descriptor, or -1 with errno.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, uint mode);

    /// <summary>close(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>fcntl(2) commands and flags used.</summary>
    public const int F_GETFD = 1, FD_CLOEXEC = 1;

    /// <summary>fcntl(2) with an integer argument.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int fcntl(int fd, int command, int argument);

    /// <summary>dup(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int dup(int fd);

    /// <summary>write(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, byte* buffer, nuint count);

    /// <summary>read(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, byte* buffer, nuint count);

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        /// <summary>The descriptor, the events asked for and those that happened.</summary>
        public int Fd;
        /// <summary>See <see cref="Fd"/>.</summary>
        public short Events, Revents;
    }

    /// <summary>poll(2) events.</summary>
    public const short POLLIN = 1;

    /// <summary>poll(2): how many descriptors are ready, 0 on timeout, -1 with errno.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    /// <summary>isatty(3): 1 for a terminal.</summary>
    [LibraryImport("libc")]
    public static partial int isatty(int fd);

    /// <summary>Room for a struct termios (60 bytes on Linux x86-64), handled as opaque bytes.</summary>
    public const int TermiosSize = 64;
    /// <summary>tcsetattr(3): change at once.</summary>
    public const int TCSANOW = 0;

    /// <summary>tcgetattr(3) into a <see cref="TermiosSize"/> buffer.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int tcgetattr(int fd, byte* termios);

    /// <summary>tcsetattr(3) from a <see cref="TermiosSize"/> buffer.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int tcsetattr(int fd, int when, byte* termios);

    /// <summary>cfmakeraw(3): no echo, no line editing, no signals from keys, 8-bit bytes as typed.</summary>
    [LibraryImport("libc")]
    public static partial void cfmakeraw(byte* termios);

    /// <summary>dup2(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int dup2(int oldFd, int newFd);

    /// <summary>setsid(2): a new session and process group, with no controlling terminal.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsid();

    // ioctl is variadic in C; on x86-64 an integer or pointer third argument is passed exactly like a fixed one.
    /// <summary>ioctl(2) with an integer or pointer argument; KVM's whole interface.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, nint argument);

    /// <summary>flock(2): advisory whole-file lock, released when the descriptor closes.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    /// <summary>stat(2) into a <see cref="StatSize"/>-byte buffer; follows symbolic links.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int stat(string path, byte* buffer);

    /// <summary>lstat(2) into a <see cref="StatSize"/>-byte buffer; does not follow a final symbolic link.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int lstat(string path, byte* buffer);

    /// <summary>fstat(2) into a <see cref="StatSize"/>-byte buffer.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int fstat(int fd, byte* buffer);

    /// <summary>link(2): a hard link.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int link(string oldPath, string newPath);

    /// <summary>mkdirat(2), relative to an open directory so a path cannot be swapped underneath.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(int dirfd, string path, uint mode);

    /// <summary>mknod(2): device nodes and FIFOs for container roots.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mknod(string path, uint mode, ulong device);

    /// <summary>chmod(2).</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chmod(string path, uint mode);

    /// <summary>fchmod(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int fchmod(int fd, uint mode);

    /// <summary>mount(2); <paramref name="flags"/> are MS_* bits.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string source, string target, string fstype, nuint flags, string data);

    /// <summary>umount2(2); <paramref name="flags"/> such as <see cref="MNT_DETACH"/>.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    /// <summary>openat2(2), which glibc has no wrapper for, through syscall(2).</summary>
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    public static partial long syscall_openat2(long number, int dirfd, byte* path, OpenHow* how, nuint size);

    /// <summary>openat2's syscall number on x86-64.</summary>
    public const long SYS_openat2 = 437;
    /// <summary><see cref="OpenHow.Resolve"/> bits: no /proc magic links; resolve as if the directory were /.</summary>
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_IN_ROOT = 0x10;

    /// <summary>struct open_how for <see cref="syscall_openat2"/>.</summary>
    public struct OpenHow
    {
        /// <summary>open(2) flags (O_*).</summary>
        public ulong Flags;
        /// <summary>Permission bits when creating.</summary>
        public ulong Mode;
        /// <summary>RESOLVE_* bits.</summary>
        public ulong Resolve;
    }

    /// <summary>mmap(2): an address, or <see cref="MAP_FAILED"/> with errno.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    /// <summary>munmap(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(nint addr, nuint length);

    /// <summary>mprotect(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int mprotect(nint addr, nuint length, int prot);

    /// <summary>mincore(2): one byte per page of <paramref name="length"/>, bit 0 set where the page is resident.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int mincore(nint addr, nuint length, byte* vector);

    /// <summary>prctl(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    /// <summary>waitpid(2); <paramref name="status"/> is the raw wait status.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int waitpid(int pid, out int status, int options);

    /// <summary>kill(2).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int signal);

    /// <summary>The calling thread's pthread_t, for <see cref="pthread_kill"/> and <see cref="pthread_getcpuclockid"/>.</summary>
    [LibraryImport("libc")]
    public static partial nuint pthread_self();

    /// <summary>Returns an error number (not -1 and errno), as every pthread call does.</summary>
    [LibraryImport("libc")]
    public static partial int pthread_kill(nuint thread, int signal);

    /// <summary>Returns an error number (not -1 and errno), as every pthread call does.</summary>
    [LibraryImport("libc")]
    public static partial int pthread_getcpuclockid(nuint thread, out int clock);

    /// <summary>sigaction(2); either pointer may be null.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int sigaction(int signal, SigAction* action, SigAction* old);

    /// <summary>The lowest real-time signal glibc leaves to programs (it keeps some for itself).</summary>
    [LibraryImport("libc")]
    public static partial int __libc_current_sigrtmin();

    /// <summary>The highest real-time signal number.</summary>
    [LibraryImport("libc")]
    public static partial int __libc_current_sigrtmax();

    /// <summary>clock_gettime(2); 0, or -1 for an unknown clock.</summary>
    [LibraryImport("libc")]
    public static partial int clock_gettime(int clock, out Timespec time);

    /// <summary>nanosleep(2); <paramref name="remaining"/> may be 0 (null).</summary>
    [LibraryImport("libc")]
    public static partial int nanosleep(in Timespec request, nint remaining);

    /// <summary>struct timespec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        /// <summary>Whole seconds, and nanoseconds below one second.</summary>
        public long Seconds, Nanoseconds;
    }

    /// <summary>glibc's struct sigaction on x86-64 (glibc adds SA_RESTORER and its restorer itself).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SigAction
    {
        /// <summary>sa_handler (or sa_sigaction with SA_SIGINFO): a native function pointer, SIG_DFL (0) or SIG_IGN (1).</summary>
        public nint Handler;
        /// <summary>sa_mask: signals blocked while the handler runs, 1024 bits.</summary>
        public fixed ulong Mask[16];
        /// <summary>sa_flags (SA_*).</summary>
        public int Flags;
        /// <summary>sa_restorer; glibc fills it in.</summary>
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

    /// <summary>
    /// An exclusive flock on <paramref name="path"/> (made, mode 0600, if absent), taken without waiting; null when
    /// another holder has it. Disposing the handle, or the process ending, releases it.
    /// </summary>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle? TryLock(string path)
    {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0) throw Error($"open {path}");
        var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return handle;
        handle.Dispose();
        return null;
    }

    /// <summary>An <see cref="IOException"/> for <paramref name="call"/> failing with <paramref name="errno"/>, worded by <see cref="Failure"/>.</summary>
    public static IOException Error(string call, int errno) => new(Failure(call, errno));
}
