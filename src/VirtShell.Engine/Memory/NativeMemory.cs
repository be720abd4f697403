using System.Runtime.InteropServices;

namespace VirtShell.Engine.Memory;

/// <summary>
/// The few libc calls the engine makes: guest memory (KVM maps these same blocks later) and how much of it is
/// resident, the store's link, and a vCPU thread's CPU clock.
/// </summary>
internal static unsafe partial class Libc
{
    public const int PROT_READ = 1, PROT_WRITE = 2;
    public const int MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    public static readonly nint MAP_FAILED = -1;

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(nint addr, nuint length);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int link(string oldPath, string newPath);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int mincore(nint addr, nuint length, byte* vector);

    [LibraryImport("libc")]
    public static partial nint pthread_self();

    [LibraryImport("libc")]
    public static partial int pthread_getcpuclockid(nint thread, out int clock);

    [LibraryImport("libc")]
    public static partial int clock_gettime(int clock, out Timespec time);

    public struct Timespec
    {
        public long Seconds, Nanoseconds;
    }
}
