using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;

namespace VirtShell.Engine.Machines;

/// <summary>
/// The run loop shared by every VM model: one vCPU thread that runs the CPU backend, waits while the guest halts,
/// and parks at a safe point for pause and stop. Devices end the run through <see cref="RequestStop"/>.
/// <paramref name="platform"/> owns memory, buses, wake signal and devices; it is disposed after the CPU.
/// </summary>
public sealed class VirtualMachineRuntime(IVirtualCpu cpu, GuestMemory memory, IoPortBus ports, MmioBus mmio, WakeSignal wake,
    IDisposable platform) : IMachineRuntime
{
    private readonly object _lock = new();
    private MachineExit? _stop;
    private bool _pauseRequested, _parked;
    private long _haltExits;
    private ThreadCpuClock? _vcpuClock;
    private bool _running;

    /// <summary>The model that built it, which a saved state records; a restore refuses a state of another.</summary>
    public string Model { get; init; } = "";

    /// <summary>Guest RAM, never null for a VM.</summary>
    public GuestMemory Memory => memory;
    GuestMemory? IMachineRuntime.Memory => memory;
    /// <summary>The vCPU; its state may be read only while it is not running (paused, or after the run).</summary>
    public IVirtualCpu Cpu => cpu;

    /// <summary>The dirty-page log of a backend that can see its guest's stores (the interpreter, KVM's log), for pre-copy; null otherwise.</summary>
    public IDirtyPageTracking? DirtyPageTracking => cpu as IDirtyPageTracking;

    /// <summary>
    /// How a backend that counts otherwise (KVM: exits, not instructions or halts) turns <see cref="Measure"/>'s
    /// figures into its own; by default they stand.
    /// </summary>
    public Func<MachineCounters, MachineCounters> Counting { get; init; } = counters => counters;

    /// <summary>What the interpreter counts, as <see cref="Counting"/> adjusts it.</summary>
    public MachineCounters Measure() => Counting(new()
    {
        Instructions = cpu.InstructionsRetired,
        IoExits = ports.Accesses,
        MmioExits = mmio.Accesses,
        HaltExits = Interlocked.Read(ref _haltExits),
        CpuTime = Volatile.Read(ref _vcpuClock)?.Elapsed ?? TimeSpan.Zero,
        HostMemoryBytes = (long)memory.ResidentBytes(),
        GuestMemoryBytes = (long)memory.Size,
    });

    /// <inheritdoc/>
    public MachineExit Run()
    {
        Volatile.Write(ref _vcpuClock, ThreadCpuClock.OfCurrentThread());
        lock (_lock) _running = true;
        try
        {
            return RunUntilStopped();
        }
        finally
        {
            lock (_lock) _running = false;
        }
    }

    private MachineExit RunUntilStopped()
    {
        while (true)
        {
            lock (_lock)
            {
                if (_stop != null) return _stop;
                if (_pauseRequested)
                {
                    _parked = true;
                    Monitor.PulseAll(_lock);
                    while (_pauseRequested && _stop == null) Monitor.Wait(_lock);
                    _parked = false;
                    continue;
                }
            }
            var exit = cpu.Run();
            if (exit.Reason == CpuExitReason.Halted)
            {
                Interlocked.Increment(ref _haltExits);
                // Timers and console input raise interrupts through the controller, which sets the signal.
                wake.Wait(TimeSpan.FromMilliseconds(100));
            }
            else if (MachineExitFor(exit, cpu.DumpState) is { } end)
            {
                RequestStop(end);
            }
        }
    }

    /// <summary>
    /// How a CPU exit ends the machine's run, or null when the run goes on (an exit request, a halt). A crash carries
    /// the backend's register dump; an end the guest chose (power-off, reset) carries what the backend said.
    /// </summary>
    public static MachineExit? MachineExitFor(CpuExit exit, Func<string> dump) => exit.Reason switch
    {
        CpuExitReason.TripleFault => new MachineExit(ExitReason.TripleFault, Detail: $"{exit.Detail}\n{dump()}".Trim()),
        CpuExitReason.InternalError => new MachineExit(ExitReason.InternalError, Detail: $"{exit.Detail}\n{dump()}".Trim()),
        CpuExitReason.GuestPowerOff => new MachineExit(ExitReason.GuestPowerOff, Detail: exit.Detail),
        CpuExitReason.GuestReset => new MachineExit(ExitReason.GuestReset, Detail: exit.Detail),
        _ => null,
    };

    /// <inheritdoc/>
    public void RequestStop(MachineExit exit)
    {
        lock (_lock)
        {
            _stop ??= exit;
            Monitor.PulseAll(_lock);
        }
        cpu.RequestExit();
        wake.Set();
    }

    /// <summary>No VM model has a way to ask the guest to stop yet (no ACPI power button).</summary>
    public bool RequestGracefulStop() => false;

    /// <inheritdoc/>
    public void Pause()
    {
        lock (_lock)
        {
            _pauseRequested = true;
            cpu.RequestExit();
            wake.Set();
            while (!_parked && _stop == null) Monitor.Wait(_lock, 100);
        }
    }

    /// <inheritdoc/>
    public void Resume()
    {
        lock (_lock)
        {
            _pauseRequested = false;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>
    /// Writes the machine's state (docs/state-format.md) while it is paused, before its first run or after its last.
    /// </summary>
    /// <exception cref="InvalidOperationException">The vCPU is running.</exception>
    /// <exception cref="StateNotSupportedException">The CPU backend or a device cannot save its state; nothing is written.</exception>
    /// <param name="stream">Where the state goes.</param>
    /// <param name="withMemory">False for the end of a pre-copy migration, whose RAM went ahead in its own stream.</param>
    public void SaveState(Stream stream, bool withMemory = true)
    {
        lock (_lock)
        {
            if (_running && !_parked) throw new InvalidOperationException("the machine must be paused to save its state");
            StateCapture.Capture(Model, cpu, memory, ports, mmio, withMemory).Write(stream);
        }
    }

    /// <summary>
    /// Copies every writable disk image of the paused machine into <paramref name="directory"/> (a reflink where the
    /// file system allows, else a byte copy) and says which, for the checkpoint's record. Read-only images are not
    /// copied: nothing the guest does changes them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The vCPU is running.</exception>
    public IReadOnlyList<CapturedDisk> CaptureDisks(string directory)
    {
        lock (_lock)
        {
            if (_running && !_parked) throw new InvalidOperationException("the machine must be paused to capture its disks");
            var disks = StateCapture.DiskDevices(ports, mmio).Where(d => !d.ReadOnly).ToList();
            return [.. disks.Select((disk, i) =>
            {
                string copy = Path.Combine(directory, $"disk{i}-{Path.GetFileName(disk.ImagePath)}");
                return new CapturedDisk(disk.ImagePath, copy, DiskCapture.Capture(disk.ImagePath, copy));
            })];
        }
    }

    /// <summary>
    /// Loads a saved state into this machine, built from the definition it was saved with and not yet run; the run
    /// then goes on where the saved one was. On an exception the machine is half restored and must be disposed.
    /// </summary>
    /// <exception cref="StateFormatException">The state is of another model or other devices, or a section is damaged.</exception>
    /// <param name="state">The state.</param>
    /// <param name="withMemory">False when RAM was filled by a pre-copy migration's stream and the state has none.</param>
    public void RestoreState(SavedState state, bool withMemory = true)
    {
        lock (_lock)
        {
            if (_running) throw new InvalidOperationException("a saved state is loaded only into a machine that has not run");
            StateCapture.Apply(state, Model, cpu, memory, ports, mmio, withMemory);
        }
    }

    /// <summary>
    /// Disposes the CPU, then the platform (devices, buses, memory); only after <see cref="Run"/> has returned.
    /// </summary>
    public void Dispose()
    {
        cpu.Dispose();
        platform.Dispose();
    }
}
