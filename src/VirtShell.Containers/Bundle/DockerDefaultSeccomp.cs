namespace VirtShell.Containers.Bundle;

/// <summary>A condition on one argument of a call (libseccomp's comparison; for MASKED_EQ the value is the mask).</summary>
public sealed record SeccompArgument(uint Index, ulong Value, string Op, ulong ValueTwo = 0);

/// <summary>
/// One rule of the profile. It applies when the container's bounding set holds every capability of
/// <paramref name="WithCaps"/> and none of <paramref name="WithoutCaps"/>, and the kernel is at least
/// <paramref name="MinKernel"/>.
/// </summary>
public sealed record SeccompRule(
    IReadOnlyList<string> Names,
    string Action = "SCMP_ACT_ALLOW",
    uint? Errno = null,
    IReadOnlyList<SeccompArgument>? Args = null,
    IReadOnlyList<string>? WithCaps = null,
    IReadOnlyList<string>? WithoutCaps = null,
    Version? MinKernel = null);

/// <summary>
/// Docker's default seccomp profile as data: the rule set of moby's <c>profiles/seccomp/default.json</c> (Apache-2.0,
/// the Moby authors; read at github.com/moby/profiles, default.json as of May 2026), restated as a table. An
/// allow-list: any call not allowed here fails with EPERM. Rules moby keeps for other architectures (arm, ppc64le,
/// s390, riscv64) are left out: this project builds for linux-x64 only.
/// </summary>
public static class DockerDefaultSeccomp
{
    public const uint EPERM = 1;
    public const uint ENOSYS = 38;

    /// <summary>What the kernel answers for a call no rule allows.</summary>
    public const uint DefaultErrno = EPERM;

    /// <summary>The architectures the filter covers: x86-64 and the two ABIs an x86-64 kernel also runs (i386, x32).</summary>
    public static readonly IReadOnlyList<string> Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

    /// <summary>Calls allowed to every container, whatever its capabilities.</summary>
    public static readonly IReadOnlyList<string> Allowed =
    [
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset", "chdir",
        "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
        "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
        "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
        "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
        "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
        "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
        "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
        "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
        "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd",
        "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
        "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
        "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
        "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
        "getuid32", "getxattr", "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
        "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get",
        "ioprio_set", "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount",
        "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
        "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat",
        "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
        "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
        "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
        "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
        "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
        "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
        "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
        "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr",
        "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "riscv_hwprobe", "rmdir", "rseq",
        "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
        "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
        "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
        "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
        "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
        "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
        "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt",
        "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl",
        "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
        "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statmount", "statx", "symlink",
        "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
        "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
        "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
        "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime",
        "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
        "writev",
    ];

    /// <summary>Address families socket(2) refuses: AF_ALG (38) and AF_VSOCK (40); every other family is allowed.</summary>
    private const ulong AF_ALG = 38, AF_NFC = 39, AF_VSOCK = 40;

    /// <summary>personality(2) values allowed: PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE, both, and the query 0xffffffff.</summary>
    private static readonly ulong[] Personalities = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

    /// <summary>clone(2) flags that make a namespace (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET).</summary>
    private const ulong NamespaceFlags = 0x7E020000;

    public static readonly IReadOnlyList<SeccompRule> Rules =
    [
        new(Allowed),
        new(["process_vm_readv", "process_vm_writev", "ptrace"], MinKernel: new Version(4, 8)),
        new(["socket"], Args: [new(0, AF_ALG, "SCMP_CMP_LT")]),
        new(["socket"], Args: [new(0, AF_NFC, "SCMP_CMP_EQ")]),
        new(["socket"], Args: [new(0, AF_VSOCK, "SCMP_CMP_GT")]),
        .. Personalities.Select(p => new SeccompRule(["personality"], Args: [new(0, p, "SCMP_CMP_EQ")])),
        new(["arch_prctl", "modify_ldt"]), // moby's rules for the x86 family, of which linux-x64 is one
        new(["open_by_handle_at"], WithCaps: ["CAP_DAC_READ_SEARCH"]),
        new([
            "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
            "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount", "mount_setattr", "move_mount",
            "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog",
            "umount", "umount2", "unshare",
        ], WithCaps: ["CAP_SYS_ADMIN"]),
        // Without CAP_SYS_ADMIN, clone only without a namespace flag; clone3 passes its flags in memory, out of the
        // filter's reach, so it answers ENOSYS and the C library falls back to clone.
        new(["clone"], Args: [new(0, NamespaceFlags, "SCMP_CMP_MASKED_EQ")], WithoutCaps: ["CAP_SYS_ADMIN"]),
        new(["clone3"], "SCMP_ACT_ERRNO", ENOSYS, WithoutCaps: ["CAP_SYS_ADMIN"]),
        new(["reboot"], WithCaps: ["CAP_SYS_BOOT"]),
        new(["chroot"], WithCaps: ["CAP_SYS_CHROOT"]),
        new(["delete_module", "init_module", "finit_module"], WithCaps: ["CAP_SYS_MODULE"]),
        new(["acct"], WithCaps: ["CAP_SYS_PACCT"]),
        new(["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"], WithCaps: ["CAP_SYS_PTRACE"]),
        new(["iopl", "ioperm"], WithCaps: ["CAP_SYS_RAWIO"]),
        new(["settimeofday", "stime", "clock_settime", "clock_settime64"], WithCaps: ["CAP_SYS_TIME"]),
        new(["vhangup"], WithCaps: ["CAP_SYS_TTY_CONFIG"]),
        new(["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"], WithCaps: ["CAP_SYS_NICE"]),
        new(["syslog"], WithCaps: ["CAP_SYSLOG"]),
        new(["bpf"], WithCaps: ["CAP_BPF"]),
        new(["perf_event_open"], WithCaps: ["CAP_PERFMON"]),
    ];
}
