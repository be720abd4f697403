using System.Text.Json.Nodes;
using VirtShell.Containers.Bundle;
using VirtShell.Containers.Definition;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

/// <summary>Docker's default seccomp profile: the rules as data, and the refusals seen from inside a container.</summary>
public sealed class ContainerSeccompTests : IDisposable
{
    private readonly ContainerTestHost? _host = new ContainerFactAttribute().Skip == null ? new() : null;

    public void Dispose() => _host?.Dispose();

    private static List<string> Strings(JsonNode? array) => array!.AsArray().Select(n => n!.GetValue<string>()).ToList();

    private static List<JsonNode> Rules(JsonObject profile, string call) =>
        profile["syscalls"]!.AsArray().Where(r => Strings(r!["names"]).Contains(call)).Select(r => r!).ToList();

    [Fact]
    public void Everything_not_allowed_fails_with_EPERM()
    {
        var profile = SeccompProfile.Build(ContainerSettings.DefaultCapabilities, new Version(6, 1));
        Assert.Equal("SCMP_ACT_ERRNO", profile["defaultAction"]!.GetValue<string>());
        Assert.Equal(1u, profile["defaultErrnoRet"]!.GetValue<uint>());
        foreach (var call in new[] { "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load", "init_module", "mount", "unshare", "setns", "keyctl", "bpf", "open_by_handle_at", "userfaultfd" })
            Assert.Empty(Rules(profile, call));
        foreach (var call in new[] { "execve", "read", "write", "openat", "wait4", "chroot", "ptrace", "arch_prctl" })
            Assert.Contains(Rules(profile, call), r => r["action"]!.GetValue<string>() == "SCMP_ACT_ALLOW" && r["args"] is null);
    }

    [Fact]
    public void Socket_and_personality_are_allowed_only_for_the_safe_arguments()
    {
        var profile = SeccompProfile.Build(ContainerSettings.DefaultCapabilities, new Version(6, 1));
        var socket = Rules(profile, "socket").Select(r => (r["args"]![0]!["op"]!.GetValue<string>(), r["args"]![0]!["value"]!.GetValue<ulong>()));
        Assert.Equal([("SCMP_CMP_LT", 38UL), ("SCMP_CMP_EQ", 39UL), ("SCMP_CMP_GT", 40UL)], socket); // not AF_ALG, not AF_VSOCK
        var personality = Rules(profile, "personality").Select(r => r["args"]![0]!["value"]!.GetValue<ulong>());
        Assert.Equal([0x0UL, 0x8, 0x20000, 0x20008, 0xffffffff], personality); // READ_IMPLIES_EXEC (0x400000) is not there
    }

    [Fact]
    public void Rules_follow_the_capabilities_and_the_kernel()
    {
        var plain = SeccompProfile.Build(ContainerSettings.DefaultCapabilities, new Version(6, 1));
        // Without CAP_SYS_ADMIN: clone without namespace flags only, clone3 answers ENOSYS (the C library falls back).
        var clone = Assert.Single(Rules(plain, "clone"));
        Assert.Equal("SCMP_CMP_MASKED_EQ", clone["args"]![0]!["op"]!.GetValue<string>());
        Assert.Equal(0x7E020000UL, clone["args"]![0]!["value"]!.GetValue<ulong>());
        Assert.Equal(38u, Assert.Single(Rules(plain, "clone3"))["errnoRet"]!.GetValue<uint>());

        var admin = SeccompProfile.Build([.. ContainerSettings.DefaultCapabilities, "CAP_SYS_ADMIN"], new Version(6, 1));
        Assert.Contains(Rules(admin, "mount"), r => r["action"]!.GetValue<string>() == "SCMP_ACT_ALLOW");
        Assert.Contains(Rules(admin, "clone"), r => r["args"] is null);
        Assert.DoesNotContain(Rules(admin, "clone3"), r => r["action"]!.GetValue<string>() == "SCMP_ACT_ERRNO");

        // Without CAP_SYS_CHROOT there is no chroot; before Linux 4.8 ptrace needs CAP_SYS_PTRACE.
        Assert.Empty(Rules(SeccompProfile.Build(["CAP_CHOWN"], new Version(6, 1)), "chroot"));
        Assert.Empty(Rules(SeccompProfile.Build(ContainerSettings.DefaultCapabilities, new Version(4, 4)), "ptrace"));
    }

    [ProbeFact]
    public void A_container_gets_EPERM_for_io_uring_vsock_and_read_implies_exec()
    {
        var mounts = new List<object?> { new Dictionary<string, object?> { ["type"] = "bind", ["source"] = Probes.Directory("seccomp-probe"), ["target"] = "/probe", ["readOnly"] = true } };
        var machine = _host!.Create(_host.Spec("seccomp", ["/bin/sh", "-c", "/probe/seccomp-probe; echo done"], new() { ["mounts"] = mounts }));
        machine.Start();
        Assert.Equal(0, WaitForExit(machine).Status);
        var results = ConsoleText(machine).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains(' ')).ToDictionary(l => l[..l.LastIndexOf(' ')], l => l[(l.LastIndexOf(' ') + 1)..]);
        const string EPERM = "errno=1";
        Assert.Equal(EPERM, results["io_uring_setup"]);
        Assert.Equal(EPERM, results["io_uring_enter"]);
        Assert.Equal(EPERM, results["io_uring_register"]);
        Assert.Equal(EPERM, results["socket(AF_VSOCK)"]);
        Assert.Equal(EPERM, results["personality(READ_IMPLIES_EXEC)"]);
        // The same program's allowed calls go through: the refusals above are the profile's, not a broken filter.
        Assert.Equal("ok", results["socket(AF_UNIX)"]);
        Assert.Equal("ok", results["personality(query)"]);
    }
}
