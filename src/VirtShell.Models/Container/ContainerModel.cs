using VirtShell.Containers;
using VirtShell.Containers.Definition;
using VirtShell.Containers.Runc;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Engine.Store;

using VirtShell.Models.Pc;

namespace VirtShell.Models.Container;

/// <summary>
/// OS-level virtualization: the guest is a set of host processes in their own namespaces and cgroups, made by
/// runc from an OCI bundle the engine writes. Rootful only: runc must run as root here (rootless runc needs user
/// namespaces and delegated cgroups, which this model does not set up).
/// </summary>
public sealed class ContainerModel : IMachineModel, IReleasesLeftovers, ICheckpointRestore
{
    private readonly string? _home;
    private readonly string? _runc;

    /// <param name="home">$VIRTSHELL_HOME of the machine store (null: the default, resolved at each start).</param>
    /// <param name="runc">The runc binary (null: found on PATH or in /usr/sbin).</param>
    public ContainerModel(string? home = null, string? runc = null)
    {
        _home = home;
        _runc = runc;
    }

    public string Name => "container";
    public string Technique => "OS-level virtualization: namespaces, cgroups and seccomp through runc";
    public IReadOnlyCollection<string> DeviceTypes => [];
    public string? DefinitionSection => "container";

    public ModelAvailability GetAvailability()
    {
        if (!OperatingSystem.IsLinux()) return ModelAvailability.Unavailable("containers need Linux");
        if (!Environment.IsPrivilegedProcess)
            return ModelAvailability.Unavailable("containers need root (rootless containers are not supported)");
        if (FindRunc() == null)
            return ModelAvailability.Unavailable($"runc not found {(_runc is null ? "on PATH or in /usr/sbin" : $"at {_runc}")} (install Debian's runc: ./build.ps1 -Task Bootstrap)");
        if (!File.ReadAllText("/proc/filesystems").Contains("\toverlay\n", StringComparison.Ordinal))
            return ModelAvailability.Unavailable("the kernel has no overlay filesystem");
        return ModelAvailability.Available;
    }

    public void Validate(MachineSpec spec)
    {
        PcPlatform.RequireNativeArch(spec);
        ContainerSettingsReader.Read(spec);
    }

    public IMachineRuntime CreateRuntime(MachineSpec spec, MachineServices services) =>
        ContainerRuntime.Create(RequireHost(), ContainerSettingsReader.Read(spec), spec.Name, services);

    public IMachineRuntime Restore(MachineSpec spec, MachineServices services, string checkpointDirectory) =>
        ContainerRuntime.Restore(RequireHost(), ContainerSettingsReader.Read(spec), spec.Name, services, checkpointDirectory);

    private ContainerHost RequireHost() => Host() ?? throw new MachineStateException("runc not found (install Debian's runc)");

    public void ReleaseLeftovers(MachineSpec spec) => Host()?.ReleaseLeftovers(spec.Name);

    /// <summary>The container side of this model's home, for cleanup and checks outside a run.</summary>
    public ContainerHost? Host() => FindRunc() is { } runc ? new ContainerHost(_home ?? MachineStore.DefaultHome(), runc) : null;

    private string? FindRunc() => _runc is null ? RuncClient.Find() : File.Exists(_runc) ? _runc : null;
}
