using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;

namespace VirtShell.Engine.Models;

/// <summary>Whether a model can run here, and if not, why (so the user can fix it).</summary>
public sealed record ModelAvailability(bool IsAvailable, string? Reason = null)
{
    /// <summary>The model can run here.</summary>
    public static readonly ModelAvailability Available = new(true);
    /// <summary>
    /// The model cannot run here, for <paramref name="reason"/> (which says what to install or enable).
    /// </summary>
    public static ModelAvailability Unavailable(string reason) => new(false, reason);
}

/// <summary>
/// A machine model: one virtualization technique as a plug-in. It names itself, says whether it can run on this
/// host, validates a spec and builds the runtime. Nothing in the engine switches on a model's name.
/// </summary>
public interface IMachineModel
{
    /// <summary>
    /// The name definitions use in <c>model:</c> ("emulated", "hardware", ...); unique among models.
    /// </summary>
    string Name { get; }
    /// <summary>The technique, in a few words (shown by Get-VirtModel).</summary>
    string Technique { get; }
    /// <summary>
    /// Whether this host can run the model now (/dev/kvm, runc, ...); asked before every start.
    /// </summary>
    ModelAvailability GetAvailability();
    /// <summary>Device types a definition for this model may use.</summary>
    IReadOnlyCollection<string> DeviceTypes { get; }
    /// <summary>
    /// The field of <c>machine({...})</c> this model reads itself (<c>container</c>), or null. Its value reaches the
    /// model as plain data in <see cref="MachineSpec.Sections"/>.
    /// </summary>
    string? DefinitionSection { get; }
    /// <summary>Throws <see cref="DefinitionException"/> naming the device or setting at fault.</summary>
    void Validate(MachineSpec spec);
    /// <summary>
    /// Builds the machine from a validated <paramref name="spec"/>, ready for <see cref="IMachineRuntime.Run"/>; the caller
    /// owns and disposes the runtime.
    /// </summary>
    /// <exception cref="DefinitionException">Something in the spec cannot be built (an image, a device setting).</exception>
    IMachineRuntime CreateRuntime(MachineSpec spec, MachineServices services);
}

/// <summary>
/// A model that leaves host-side state outside the machine folder or mounted in it (runc state, cgroups, mounts).
/// Removal calls it first, so a machine whose engine died mid-run is cleaned up by Remove-VirtMachine -Force.
/// </summary>
public interface IReleasesLeftovers
{
    /// <summary>Releases whatever a run of <paramref name="spec"/> left behind; safe when nothing is left.</summary>
    void ReleaseLeftovers(MachineSpec spec);
}

/// <summary>What the engine gives a model's runtime: the console, and a way to end the run.</summary>
public sealed class MachineServices(ConsoleChannel console, Action<MachineExit> powerOff, Action<string> log)
{
    /// <summary>The machine's console; the engine owns and disposes it.</summary>
    public ConsoleChannel Console { get; } = console;
    /// <summary>Ends the run with the given exit (debug-exit, guest power-off); safe from any thread.</summary>
    public Action<MachineExit> PowerOff { get; } = powerOff;
    /// <summary>Writes a note to the machine's log (machine.log); safe from any thread.</summary>
    public Action<string> Log { get; } = log;
}

/// <summary>A running machine's engine side: for VMs, memory + CPU + devices; for containers, a runtime process.</summary>
public interface IMachineRuntime : IDisposable
{
    /// <summary>Runs on the machine's thread until the machine ends; returns how it ended.</summary>
    MachineExit Run();
    /// <summary>Ends <see cref="Run"/> with <paramref name="exit"/> as soon as possible (power cut); thread-safe, idempotent (the first exit wins).</summary>
    void RequestStop(MachineExit exit);
    /// <summary>
    /// Asks the guest to stop by itself (an ACPI power button, SIGTERM), ending the run with StoppedByUser when it
    /// does; false when the model has no way to ask, and the caller cuts the power instead.
    /// </summary>
    bool RequestGracefulStop();
    /// <summary>Blocks until the guest no longer runs (it may still hold state), or throws if the model cannot pause.</summary>
    void Pause();
    /// <summary>Lets a paused guest run on; thread-safe, and a no-op when it is not paused.</summary>
    void Resume();
    /// <summary>Guest RAM where the model has any (VMs); null for containers.</summary>
    Memory.GuestMemory? Memory { get; }
    /// <summary>What the run has cost and done so far (Measure-VirtMachine); thread-safe.</summary>
    MachineCounters Measure();
}
