using System.Text.Json.Nodes;

namespace VirtShell.Containers.Bundle;

/// <summary>
/// The container's seccomp filter in config.json: docker's default profile (<see cref="DockerDefaultSeccomp"/>), its
/// rules chosen for the container's capabilities and the host's kernel as docker chooses them. runc applies the filter
/// just before it executes the container's program, so its own setup (mounts, pivot_root, namespaces) is not affected.
/// Names that runc's libseccomp does not know (calls newer than it) are skipped by runc.
/// </summary>
public static class SeccompProfile
{
    /// <param name="capabilities">The container's bounding set: rules that need a capability apply only with it.</param>
    /// <param name="kernel">The host kernel's version (rules with a minimum kernel); the running one when null.</param>
    public static JsonObject Build(IReadOnlyCollection<string> capabilities, Version? kernel = null)
    {
        kernel ??= Environment.OSVersion.Version;
        var syscalls = new JsonArray();
        foreach (var rule in DockerDefaultSeccomp.Rules.Where(r => Applies(r, capabilities, kernel)))
        {
            var entry = new JsonObject { ["names"] = OciBundle.Strings(rule.Names), ["action"] = rule.Action };
            if (rule.Errno is { } errno) entry["errnoRet"] = errno;
            if (rule.Args is { } args)
                entry["args"] = new JsonArray(args.Select(a => (JsonNode)new JsonObject
                {
                    ["index"] = a.Index, ["value"] = a.Value, ["valueTwo"] = a.ValueTwo, ["op"] = a.Op,
                }).ToArray());
            syscalls.Add(entry);
        }
        return new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ERRNO",
            ["defaultErrnoRet"] = DockerDefaultSeccomp.DefaultErrno,
            ["architectures"] = OciBundle.Strings(DockerDefaultSeccomp.Architectures),
            ["syscalls"] = syscalls,
        };
    }

    private static bool Applies(SeccompRule rule, IReadOnlyCollection<string> capabilities, Version kernel) =>
        (rule.WithCaps ?? []).All(capabilities.Contains)
        && !(rule.WithoutCaps ?? []).Any(capabilities.Contains)
        && (rule.MinKernel is not { } min || kernel >= min);
}
