using System.Text.Json.Serialization;

namespace VirtShell.Engine.Machines;

/// <summary>
/// What a running machine's runtime counts, under one set of names for every model. A model leaves null what its
/// technique cannot count: KVM runs instructions unobserved, a container has no guest RAM and never exits.
/// </summary>
public record MachineCounters
{
    /// <summary>
    /// Guest instructions retired (the emulated model's interpreter counts them), as of the CPU's last return to the
    /// run loop: a HLT, a pause or stop, or every million instructions of a guest that never halts.
    /// </summary>
    public long? Instructions { get; init; }

    /// <summary>Times the vCPU left the guest for this process (KVM: every return from KVM_RUN).</summary>
    public long? Exits { get; init; }

    /// <summary>
    /// Port reads and writes that left the guest CPU for this process's devices: every IN/OUT on the interpreter,
    /// every one the kernel does not answer itself under KVM. A string instruction counts each element.
    /// </summary>
    public long? IoExits { get; init; }

    /// <summary>MMIO reads and writes that reached this process's devices, counted as <see cref="IoExits"/>.</summary>
    public long? MmioExits { get; init; }

    /// <summary>HLTs the run loop waited out for an interrupt (the interpreter; KVM halts in the kernel).</summary>
    public long? HaltExits { get; init; }

    /// <summary>Host CPU time the machine has used: its vCPU thread for VMs (guest time included), its cgroup for containers.</summary>
    public TimeSpan? CpuTime { get; init; }

    /// <summary>
    /// Host memory the machine holds: for VMs the guest RAM pages resident on the host (what the guest, the loaders
    /// and the devices touched); for containers the cgroup's memory usage (page cache included).
    /// </summary>
    public long? HostMemoryBytes { get; init; }

    /// <summary>Guest RAM as the definition sized it (VMs).</summary>
    public long? GuestMemoryBytes { get; init; }

    /// <summary>Processes in the container's cgroup.</summary>
    public long? Processes { get; init; }

    /// <summary>Times the OOM killer struck in the container's cgroup.</summary>
    public long? OomKills { get; init; }
}

/// <summary>
/// A machine measured (Measure-VirtMachine): its runtime's counters and what the machine itself knows. The counters
/// are null unless this process runs the machine.
/// </summary>
public sealed record MachineMeasurement : MachineCounters
{
    /// <summary>A measurement starting from the runtime's <paramref name="counters"/>.</summary>
    public MachineMeasurement(MachineCounters counters) : base(counters) { }

    /// <summary>An empty measurement, for deserializers (the control protocol) that set every property.</summary>
    [JsonConstructor]
    public MachineMeasurement() : base(new MachineCounters()) { }

    /// <summary>The machine's name.</summary>
    public required string Name { get; init; }
    /// <summary>Its model's name.</summary>
    public required string Model { get; init; }
    /// <summary>Its state when measured.</summary>
    public required MachineState State { get; init; }
    /// <summary>Time since the run started; zero when not Running or Paused.</summary>
    public required TimeSpan Uptime { get; init; }

    /// <summary>Console bytes the guest wrote in this run and the console kept.</summary>
    public long? ConsoleBytesOut { get; init; }

    /// <summary>Console bytes sent to the guest in this run.</summary>
    public long? ConsoleBytesIn { get; init; }

    /// <summary>Console bytes the guest wrote past its rate limit in this run, dropped (not in ConsoleBytesOut).</summary>
    public long? ConsoleBytesDropped { get; init; }
}
