using System.Text.Json.Nodes;

namespace VirtShell.Containers.Bundle;

/// <summary>
/// The project's default seccomp profile: a deny-list on top of the dropped capabilities. Docker's profile is an
/// allow-list of about 350 calls; a deny-list is easier to read and keeps working when the kernel grows new
/// harmless calls, at the cost of trusting that new dangerous ones also need a capability we drop. It refuses
/// (EPERM) what docker refuses by default to a container without CAP_SYS_ADMIN and friends: kernel modules and
/// kexec, the mount API, namespace creation and joining, keyrings, bpf/perf, clock and swap control, handle-based
/// opens (the "shocker" escape), and the old x86 oddities. runc applies the filter just before it executes the
/// container's program, so its own setup (mounts, pivot_root, namespaces) is not affected.
/// </summary>
public static class SeccompProfile
{
    private const uint EPERM = 1;
    private const uint ENOSYS = 38;

    public static readonly IReadOnlyList<string> Denied =
    [
        // kernel code
        "init_module", "finit_module", "delete_module", "create_module", "query_module", "get_kernel_syms",
        "kexec_load", "kexec_file_load", "bpf", "perf_event_open", "lookup_dcookie", "uselib",
        // mounts and namespaces: the container's view of the filesystem and the kernel is fixed by runc
        "mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
        "fspick", "mount_setattr", "unshare", "setns",
        // host-wide state
        "swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd", "settimeofday", "clock_settime",
        "clock_settime64", "stime", "adjtimex", "clock_adjtime", "clock_adjtime64", "syslog", "nfsservctl", "sysfs",
        "_sysctl", "ustat", "vhangup",
        // keyrings are not namespaced
        "add_key", "request_key", "keyctl",
        // handles and cross-process memory outside the usual ptrace rules
        "open_by_handle_at", "name_to_handle_at", "kcmp", "userfaultfd", "fanotify_init",
        "move_pages", "mbind", "set_mempolicy", "get_mempolicy", "migrate_pages",
        // x86 port and mode access
        "iopl", "ioperm", "vm86", "vm86old", "modify_ldt",
    ];

    /// <summary>The clone(2) flags that make a namespace; clone with any of them is refused like unshare.</summary>
    private static readonly ulong[] NamespaceFlags =
        [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

    public static JsonObject Build()
    {
        var syscalls = new JsonArray
        {
            new JsonObject { ["names"] = OciBundle.Strings(Denied), ["action"] = "SCMP_ACT_ERRNO", ["errnoRet"] = EPERM },
            // glibc falls back to clone(2) when clone3 is missing; clone3 passes its flags in memory, out of seccomp's reach.
            new JsonObject { ["names"] = OciBundle.Strings(["clone3"]), ["action"] = "SCMP_ACT_ERRNO", ["errnoRet"] = ENOSYS },
        };
        foreach (ulong flag in NamespaceFlags)
        {
            syscalls.Add(new JsonObject
            {
                ["names"] = OciBundle.Strings(["clone"]),
                ["action"] = "SCMP_ACT_ERRNO",
                ["errnoRet"] = EPERM,
                ["args"] = new JsonArray { new JsonObject { ["index"] = 0, ["value"] = flag, ["valueTwo"] = flag, ["op"] = "SCMP_CMP_MASKED_EQ" } },
            });
        }
        return new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ALLOW",
            ["architectures"] = OciBundle.Strings(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
            ["syscalls"] = syscalls,
        };
    }
}
