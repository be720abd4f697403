using System.Diagnostics;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;
using VirtShell.Engine.Store;

namespace VirtShell.Engine.Machines;

/// <summary>Something a caller asked of a machine that its state does not allow (start a running machine, ...).</summary>
public sealed class MachineStateException(string message) : InvalidOperationException(message);

/// <summary>
/// One machine: its record on disk and, while this process runs it, its runtime, console and hooks. Lifecycle calls
/// are thread-safe; the guest runs on a thread of its own.
/// </summary>
public sealed partial class Machine
{
    private readonly object _lock = new();
    // Held while a checkpoint reads the runtime: the run's end waits for it before releasing the runtime, and
    // Pause/Resume wait so that the checkpoint's own pause and resume do not undo the user's.
    private readonly object _checkpointLock = new();
    private readonly VirtualizationHost _host;
    private MachineRecord _record;
    private IMachineRuntime? _runtime;
    private LoadedDefinition? _definition;
    private ConsoleChannel? _console;
    private Thread? _thread;
    private HookApi? _api;
    // A move under way: the exit that ends the old runtime's run, the runtime that goes on, and what tells Move it has.
    private (MachineExit Exit, IMachineRuntime? Runtime, ManualResetEventSlim? Started) _move;

    internal Machine(VirtualizationHost host, MachineRecord record)
    {
        _host = host;
        _record = record;
    }

    /// <summary>The machine's name, unique in its store.</summary>
    public string Name => _record.Name;
    /// <summary>The name of the model that runs it.</summary>
    public string Model => _record.Spec.Model;
    /// <summary>The definition as last validated (at creation, then at each start).</summary>
    public MachineSpec Spec => _record.Spec;
    /// <summary>Where the machine is in its lifecycle, as this process last knew it.</summary>
    public MachineState State { get { lock (_lock) return _record.State; } }
    /// <summary>How the last run ended; null before the first run ends and while one is under way.</summary>
    public MachineExit? LastExit { get { lock (_lock) return _record.LastExit; } }
    /// <summary>When the machine was created (UTC).</summary>
    public DateTimeOffset CreatedAt => _record.CreatedAt;
    /// <summary>When the current or last run started (UTC); null if it never ran.</summary>
    public DateTimeOffset? StartedAt { get { lock (_lock) return _record.StartedAt; } }
    /// <summary>The machine's folder in the store.</summary>
    public string Directory => _host.Store.MachineDirectory(Name);
    /// <summary>The console.log the guest's console output goes to.</summary>
    public string ConsoleLogPath => Path.Combine(Directory, MachineStore.ConsoleFile);
    /// <summary>The definition file the machine was made from (or last given by Set-VirtMachine), where relative paths in it resolve.</summary>
    public string? DefinitionSource => Spec.DefinitionPath;
    /// <summary>SHA-256 of the stored copy of the definition that starts read; null for a machine made before copies were kept.</summary>
    public string? DefinitionHash { get { lock (_lock) return _record.Definition?.Sha256; } }
    /// <summary>The process running the machine, null when none does.</summary>
    public int? OwnerProcessId { get { lock (_lock) return _record.OwnerProcessId; } }

    /// <summary>Time since the run started while it is Running or Paused; zero otherwise.</summary>
    public TimeSpan Uptime
    {
        get
        {
            lock (_lock)
                return _record.State is MachineState.Running or MachineState.Paused && _record.StartedAt is { } s
                    ? DateTimeOffset.UtcNow - s : TimeSpan.Zero;
        }
    }

    /// <summary>True while this process runs the guest (it has the console and the runtime).</summary>
    public bool IsLocal { get { lock (_lock) return _runtime != null; } }

    /// <summary>The live console, or null when the machine has not run in this process.</summary>
    public ConsoleChannel? Console { get { lock (_lock) return _console; } }

    /// <summary>Guest RAM while this process runs a VM; null otherwise and for containers.</summary>
    public GuestMemory? Memory { get { lock (_lock) return _runtime?.Memory; } }

    /// <summary>The machine's counters under one naming scheme for every model; null counters unless this process runs it.</summary>
    public MachineMeasurement Measure()
    {
        lock (_lock)
        {
            // Under the lock: the runtime is released only after Finish has taken it away from here.
            return new MachineMeasurement(_runtime?.Measure() ?? new MachineCounters())
            {
                Name = Name,
                Model = Model,
                State = _record.State,
                Uptime = Uptime,
                ConsoleBytesOut = _runtime is null ? null : _console?.BytesFromGuest,
                ConsoleBytesIn = _runtime is null ? null : _console?.BytesToGuest,
                ConsoleBytesDropped = _runtime is null ? null : _console?.BytesDropped,
            };
        }
    }

    /// <summary>Raised for each <c>vm.log</c> of a hook and each engine note about this machine.</summary>
    public event Action<Machine, string>? Logged;

    /// <summary>The name.</summary>
    public override string ToString() => Name;

    internal void Refresh(MachineRecord record)
    {
        lock (_lock) if (_runtime == null) _record = record;
    }

    /// <summary>
    /// Loads the definition afresh, builds the runtime, runs the beforeBoot hook and starts the guest on a thread of its
    /// own; returns once the machine is Running. A Saved machine goes on from its saved state instead of booting, and
    /// beforeBoot is not run (its guest booted long ago). If the runtime cannot be built the machine keeps its previous
    /// state.
    /// </summary>
    /// <exception cref="MachineStateException">The machine is live, belongs to another process, or its model is not available here.</exception>
    /// <exception cref="DefinitionException">The model is unknown, or the definition file is gone or no longer valid.</exception>
    /// <exception cref="HookException">beforeBoot failed; the run has already ended with HookError.</exception>
    public void Start()
    {
        lock (_lock)
        {
            if (_record.State.IsLive())
                throw new MachineStateException($"machine '{Name}' is {_record.State}; only a Created, Stopped or Crashed machine can start");
            if (_record.OwnerProcessId is int pid && pid != Environment.ProcessId && MachineStore.IsOwnerAlive(_record))
                throw new MachineStateException($"machine '{Name}' belongs to process {pid}");
        }
        var model = _host.Models.Find(Model) ?? throw new DefinitionException($"machine '{Name}' uses model '{Model}', which this build does not have");
        var availability = model.GetAvailability();
        if (!availability.IsAvailable)
            throw new MachineStateException($"model '{model.Name}' is not available on this host: {availability.Reason}");

        string source = Spec.DefinitionPath ?? throw new DefinitionException($"machine '{Name}' has no definition file");
        string? copy;
        lock (_lock) copy = _host.Store.StoredDefinitionPath(_record);
        // A machine made before copies were kept starts from its original file.
        if (copy is null && !File.Exists(source))
            throw new DefinitionException($"machine '{Name}': its definition {source} no longer exists (a copy is in {Directory})");
        if (copy is not null && !File.Exists(copy))
            throw new DefinitionException($"machine '{Name}': the stored copy of its definition, {copy}, is missing; give it one with Set-VirtMachine -Definition");

        var definition = copy is null ? _host.Loader.Load(source, Name) : _host.Loader.Load(copy, Name, source);
        var previous = State;
        bool resuming = previous == MachineState.Saved;
        ConsoleChannel? console = null;
        IMachineRuntime? runtime = null;
        try
        {
            model.Validate(definition.Spec);
            console = new ConsoleChannel(ConsoleLogPath, limits: definition.Spec.Console);
            var services = new MachineServices(console, exit => _runtime?.RequestStop(exit), Log);
            SetState(MachineState.Starting, r => r with
            {
                Spec = definition.Spec, OwnerProcessId = Environment.ProcessId, OwnerProcessStart = ProcessStart,
            });
            runtime = resuming ? BuildFromSavedState(model, definition.Spec, services) : model.CreateRuntime(definition.Spec, services);
        }
        catch
        {
            console?.Dispose();
            definition.Dispose();
            SetState(previous, r => r with { OwnerProcessId = null, OwnerProcessStart = null });
            throw;
        }

        lock (_lock)
        {
            _runtime = runtime;
            _console?.Dispose();
            _console = console;
            _definition = definition;
            _api = new HookApi(this);
        }
        if (definition.Hooks is { } hooks)
        {
            try
            {
                if (!resuming) hooks.BeforeBoot(_api);
            }
            catch (HookException e)
            {
                Finish(new MachineExit(ExitReason.HookError, Detail: $"beforeBoot: {e.Message}"));
                throw;
            }
            console.LineReceived += line => hooks.OnConsoleLine(_api, line);
        }
        SetState(MachineState.Running, r => r with { StartedAt = DateTimeOffset.UtcNow, LastExit = null });
        _thread = new Thread(RunGuest) { IsBackground = true, Name = $"vcpu:{Name}" };
        _thread.Start();
    }

    /// <summary>Builds the runtime that goes on from the resume point a restored checkpoint left.</summary>
    private IMachineRuntime BuildFromSavedState(IMachineModel model, MachineSpec spec, MachineServices services)
    {
        string saved = CheckpointStore.ResumeState(Directory)
            ?? throw new MachineStateException($"machine '{Name}' is Saved, but its saved state ({Path.Combine(Directory, CheckpointStore.ResumeFolder)}) is gone");
        return model switch
        {
            IRestorableModel restorable when File.Exists(saved) => Restore(restorable, model, spec, services, saved),
            ICheckpointRestore restorable when System.IO.Directory.Exists(saved) => restorable.Restore(spec, services, saved),
            _ => throw new MachineStateException($"machine '{Name}' uses model '{Model}', which cannot go on from the saved state {saved}"),
        };
    }

    private void RunGuest()
    {
        MachineExit exit;
        while (true)
        {
            IMachineRuntime runtime;
            lock (_lock) runtime = _runtime!;
            try
            {
                exit = runtime.Run();
            }
            catch (Exception e)
            {
                exit = new MachineExit(ExitReason.InternalError, Detail: e.ToString());
            }
            // A move's own exit hands the run to the runtime it built; any other end stands, and Move learns so.
            (MachineExit Exit, IMachineRuntime? Runtime, ManualResetEventSlim? Started) move;
            lock (_lock)
            {
                move = _move;
                if (move.Runtime != null && ReferenceEquals(exit, move.Exit))
                {
                    _runtime = move.Runtime;
                    _move = default;
                }
            }
            if (move.Started == null) break;
            if (!ReferenceEquals(exit, move.Exit))
            {
                move.Started.Set();
                break;
            }
            runtime.Dispose();
            move.Started.Set();
        }
        Finish(exit);
    }

    /// <summary>Tears the run down: hooks see the exit, the runtime and script engine are released, the record says how it ended.</summary>
    private void Finish(MachineExit exit)
    {
        IMachineRuntime? runtime;
        LoadedDefinition? definition;
        lock (_lock)
        {
            runtime = _runtime;
            definition = _definition;
        }
        if (definition?.Hooks is { } hooks)
        {
            try { hooks.OnExit(_api!, exit); }
            catch (HookException e) { Log($"onExit hook failed: {e.Message}"); }
        }
        lock (_lock)
        {
            _runtime = null;
            _definition = null;
        }
        lock (_checkpointLock)
        {
            DropPreCopy();
            runtime?.Dispose();
        }
        // The run went on from the resume point (if it had one): a later start boots, as after any other run.
        CheckpointStore.DiscardResume(Directory);
        definition?.Dispose();
        _console?.Dispose(); // closes console.log; what the guest wrote stays readable in memory
        SetState(exit.IsCrash ? MachineState.Crashed : MachineState.Stopped,
            r => r with { LastExit = exit, OwnerProcessId = null, OwnerProcessStart = null });
    }

    /// <summary>
    /// Ends the run, reason StoppedByUser. Without <paramref name="turnOff"/> the guest is asked to shut down where its
    /// model can ask; otherwise, or when it cannot, the power is cut. Returns whether the guest was asked. A Saved
    /// machine turned off loses its saved state and is Stopped (its next start boots), as a saved Hyper-V VM does.
    /// </summary>
    /// <exception cref="MachineStateException">The machine runs in another process, or did not stop within <paramref name="timeout"/>.</exception>
    public bool Stop(bool turnOff, TimeSpan timeout)
    {
        IMachineRuntime? runtime;
        lock (_lock)
        {
            if (_record.State == MachineState.Saved && turnOff)
            {
                CheckpointStore.DiscardResume(Directory);
                SetState(MachineState.Stopped);
            }
            if (!_record.State.IsLive()) return false;
            runtime = _runtime;
            if (runtime == null && _record.OwnerProcessId != Environment.ProcessId)
                throw new MachineStateException($"machine '{Name}' runs in process {_record.OwnerProcessId}, not this one");
            if (runtime != null) SetState(MachineState.Stopping);
        }
        // This process's run has ended already (a hook or the guest stopped it) and is releasing its runtime: that
        // end stands, and the caller waits for it.
        if (runtime == null)
        {
            if (!WaitFor([MachineState.Stopped, MachineState.Crashed], timeout))
                throw new MachineStateException($"machine '{Name}' did not stop within {timeout.TotalSeconds:0.#} s");
            return false;
        }
        runtime.Resume();
        bool asked = !turnOff && runtime.RequestGracefulStop();
        if (!asked) runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser, Detail: "turned off"));
        if (!WaitFor([MachineState.Stopped, MachineState.Crashed], timeout))
            throw new MachineStateException($"machine '{Name}' did not stop within {timeout.TotalSeconds:0.#} s");
        return asked;
    }

    /// <summary>Stops the guest's CPUs until <see cref="Resume"/>; returns once they no longer run.</summary>
    /// <exception cref="MachineStateException">The machine is not Running in this process.</exception>
    public void Pause()
    {
        lock (_checkpointLock)
        {
            IMachineRuntime runtime = RequireLocal(MachineState.Running, "paused");
            runtime.Pause();
            SetState(MachineState.Paused);
        }
    }

    /// <summary>Lets a paused guest run on.</summary>
    /// <exception cref="MachineStateException">The machine is not Paused in this process.</exception>
    public void Resume()
    {
        lock (_checkpointLock)
        {
            IMachineRuntime runtime = RequireLocal(MachineState.Paused, "resumed");
            DropPreCopy();
            SetState(MachineState.Running);
            runtime.Resume();
        }
    }

    /// <summary>
    /// Takes a checkpoint named <paramref name="name"/> (by default "NAME - (date - time)") into the machine's
    /// checkpoints folder. A Running machine is paused for it and goes on; a Paused one stays paused; both get a saved
    /// state and their writable disks captured. A machine at rest gets its disks captured (and its saved state, when
    /// Saved), so a restore of it puts the disks back. Written aside and renamed: whole or not at all.
    /// </summary>
    /// <exception cref="MachineStateException">The machine is starting or stopping, runs in another process, or its model cannot save it.</exception>
    /// <exception cref="CheckpointException">A checkpoint of that name exists, or the model's checkpoint failed.</exception>
    /// <exception cref="StateNotSupportedException">A device of the machine cannot save its state.</exception>
    public MachineCheckpoint Checkpoint(string? name)
    {
        if (name != null) CheckpointStore.ValidateName(name);
        lock (_checkpointLock)
        {
            name ??= UnusedDefaultName();
            return CheckpointStore.Write(Directory, name, staging => Capture(staging, name));
        }
    }

    /// <summary>
    /// Writes the machine to a new file at <paramref name="path"/> (see <see cref="MachineArchive"/>): captured as a
    /// checkpoint is (a Running machine is paused for it and goes on), then packed with its definition's files.
    /// </summary>
    /// <exception cref="IOException">The file exists.</exception>
    /// <exception cref="MachineStateException">The machine is starting or stopping, runs in another process, or has a disk outside its definition's folder.</exception>
    public void Export(string path)
    {
        path = Path.GetFullPath(path);
        if (File.Exists(path) || System.IO.Directory.Exists(path)) throw new IOException($"{path} exists already: export to a new file");
        lock (_checkpointLock)
        {
            string staging = Path.Combine(Directory, $".export-{Guid.NewGuid():N}");
            System.IO.Directory.CreateDirectory(staging);
            try
            {
                // At the end of a pre-copy the destination has the RAM already: the export carries the rest.
                var capture = Capture(staging, "export", withMemory: !PreCopyPaused) with { Path = staging };
                MachineRecord record;
                lock (_lock) record = _record;
                MachineArchive.Export(record, capture, path);
            }
            finally
            {
                System.IO.Directory.Delete(staging, recursive: true);
            }
        }
    }

    /// <summary>Writes the machine's state and disk copies into <paramref name="staging"/>; under the checkpoint lock.</summary>
    private MachineCheckpoint Capture(string staging, string name, bool withMemory = true)
    {
        MachineState state;
        IMachineRuntime? runtime;
        lock (_lock)
        {
            state = _record.State;
            runtime = _runtime;
        }
        if (state.IsLive() && runtime == null)
            throw new MachineStateException($"machine '{Name}' runs in process {OwnerProcessId}, not this one");
        if (state is MachineState.Starting or MachineState.Stopping)
            throw new MachineStateException($"machine '{Name}' is {state}; only a Running, Paused or stopped machine can be captured");
        var checkpoint = new MachineCheckpoint { MachineName = Name, CheckpointName = name, Model = Model, TakenWhile = state };
        return runtime != null ? CaptureRunning(runtime, state, staging, checkpoint, withMemory) : CaptureAtRest(state, staging, checkpoint);
    }

    private string UnusedDefaultName()
    {
        string name = CheckpointStore.DefaultName(Name, DateTimeOffset.Now);
        var taken = CheckpointStore.Names(Directory).ToHashSet(StringComparer.Ordinal);
        string unused = name;
        for (int n = 2; taken.Contains(unused); n++) unused = $"{name} ({n})";
        return unused;
    }

    private MachineCheckpoint CaptureRunning(IMachineRuntime runtime, MachineState state, string staging, MachineCheckpoint checkpoint, bool withMemory)
    {
        switch (runtime)
        {
            case VirtualMachineRuntime vm:
                bool pause = state == MachineState.Running;
                if (pause) vm.Pause();
                try
                {
                    using (var file = new FileStream(Path.Combine(staging, CheckpointStore.StateFile), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                    {
                        vm.SaveState(file, withMemory);
                        file.Flush(flushToDisk: true);
                    }
                    return checkpoint with { StateFile = CheckpointStore.StateFile, Disks = Recorded(vm.CaptureDisks(staging)) };
                }
                finally
                {
                    if (pause) vm.Resume();
                }
            case ICheckpointing container:
                container.Checkpoint(Path.Combine(staging, CheckpointStore.ContainerFolder), leaveRunning: true);
                return checkpoint with { StateFile = CheckpointStore.ContainerFolder };
            default:
                throw new MachineStateException($"machine '{Name}' uses model '{Model}', which cannot save a running machine");
        }
    }

    /// <summary>A machine at rest: its disks, through a runtime built from the definition and never run, and its saved state if it has one.</summary>
    private MachineCheckpoint CaptureAtRest(MachineState state, string staging, MachineCheckpoint checkpoint)
    {
        string? saved = state == MachineState.Saved ? CheckpointStore.ResumeState(Directory) : null;
        if (saved != null)
        {
            CheckpointStore.LinkOrCopy(saved, Path.Combine(staging, Path.GetFileName(saved)));
            checkpoint = checkpoint with { StateFile = Path.GetFileName(saved) };
        }
        var model = _host.Models.Find(Model) ?? throw new DefinitionException($"machine '{Name}' uses model '{Model}', which this build does not have");
        string definitionPath = Spec.DefinitionPath ?? throw new DefinitionException($"machine '{Name}' has no definition file");
        using var definition = _host.Loader.Load(definitionPath, Name);
        using var console = new ConsoleChannel(null);
        using var runtime = model.CreateRuntime(definition.Spec, new MachineServices(console, _ => { }, Log));
        if (runtime is not VirtualMachineRuntime vm)
            throw new MachineStateException($"machine '{Name}' is {state}: a machine of model '{Model}' is captured only while it runs");
        return checkpoint with { Disks = Recorded(vm.CaptureDisks(staging)) };
    }

    /// <summary>
    /// Moves the running machine to model <paramref name="model"/>, keeping its state: the guest is paused, saved,
    /// built again on the other model from that state (<see cref="IModelMoveTarget"/>), and goes on there; the old
    /// runtime is released. Stop and copy: the downtime, which this returns and writes to the machine's log, is the
    /// whole save, translation and restore. A refusal, checked in the order a user can act on, leaves the machine
    /// running where it was. The record says the new model for the rest of this run; a later start reads the
    /// definition's own.
    /// </summary>
    /// <exception cref="DefinitionException">There is no such model, or the definition is not valid for it.</exception>
    /// <exception cref="ArgumentException">The machine uses that model already.</exception>
    /// <exception cref="MachineStateException">The model is not available on this host (the reason says what to install or enable), or the machine is not Running in this process.</exception>
    /// <exception cref="StateNotSupportedException">The state cannot move between the two models; the message says which part and why.</exception>
    public TimeSpan Move(string model)
    {
        var target = _host.Models.Find(model)
            ?? throw new DefinitionException($"unknown model '{model}' (known: {string.Join(", ", _host.Models.All.Select(m => m.Name))})");
        if (target.Name == Model) throw new ArgumentException($"machine '{Name}' uses model '{Model}' already", nameof(model));
        if (target.GetAvailability() is { IsAvailable: false } unavailable)
            throw new MachineStateException($"machine '{Name}' cannot move: model '{target.Name}' is not available here: {unavailable.Reason}");
        if (target is not IModelMoveTarget mover)
            throw new StateNotSupportedException($"machine '{Name}' cannot move: model '{target.Name}' cannot take another model's machine (docs/state-format.md, \"Between models\")");
        lock (_checkpointLock)
        {
            if (RequireLocal(MachineState.Running, "moved") is not VirtualMachineRuntime vm)
                throw new StateNotSupportedException($"machine '{Name}' cannot move: its model '{Model}' keeps no saved state another model could load");
            var spec = Spec with { Model = target.Name };
            target.Validate(spec);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            vm.Pause();
            IMachineRuntime next;
            try
            {
                var saved = new MemoryStream();
                vm.SaveState(saved);
                saved.Position = 0;
                next = mover.Adopt(spec, new MachineServices(_console!, exit => _runtime?.RequestStop(exit), Log), SavedState.Read(saved));
            }
            catch
            {
                vm.Resume();
                throw;
            }
            var moved = new MachineExit(ExitReason.StoppedByUser, Detail: $"moved to model '{target.Name}'");
            using var started = new ManualResetEventSlim();
            lock (_lock) _move = (moved, next, started);
            vm.RequestStop(moved);
            vm.Resume();
            started.Wait();
            lock (_lock)
                if (_move.Runtime != null) // the guest ended by itself before the move took: it stays ended
                {
                    _move = default;
                    next.Dispose();
                    throw new MachineStateException($"machine '{Name}' ended while it was being moved");
                }
            var downtime = clock.Elapsed;
            SetState(MachineState.Running, r => r with { Spec = spec });
            Log($"moved from model '{vm.Model}' to '{target.Name}': paused {downtime.TotalMilliseconds:0.#} ms (stop and copy)");
            return downtime;
        }
    }

    private static List<CheckpointDisk> Recorded(IEnumerable<CapturedDisk> disks) =>
        [.. disks.Select(d => new CheckpointDisk(d.Image, Path.GetFileName(d.Copy), new FileInfo(d.Copy).Length, d.Method))];

    /// <summary>
    /// Puts checkpoint <paramref name="name"/> back: its disk copies over the images, and its saved state, if it has
    /// one, as the state the next start goes on from (the machine is then Saved). Everything is checked first
    /// (record, saved state, disk copies), so a damaged checkpoint changes nothing.
    /// </summary>
    /// <exception cref="MachineStateException">The machine is live: a checkpoint is restored only into a machine at rest.</exception>
    /// <exception cref="CheckpointNotFoundException">There is no such checkpoint.</exception>
    /// <exception cref="CheckpointException">The checkpoint is damaged, or of another model.</exception>
    public void RestoreCheckpoint(string name)
    {
        lock (_checkpointLock)
        {
            var state = State;
            if (state.IsLive())
                throw new MachineStateException($"machine '{Name}' is {state}; a checkpoint is restored only into a machine at rest: stop it first");
            var checkpoint = CheckpointStore.Open(Directory, Name, name);
            if (checkpoint.Model != Model)
                throw new CheckpointException($"checkpoint '{checkpoint}' was taken on model '{checkpoint.Model}', and machine '{Name}' uses '{Model}'");
            CheckpointStore.Verify(checkpoint);
            CheckpointStore.Restore(checkpoint, Directory);
            SetState(checkpoint.HasState ? MachineState.Saved : state == MachineState.Saved ? MachineState.Stopped : state);
        }
    }

    /// <summary>
    /// Runs a command inside the running machine and returns its exit code (see <see cref="ICommandExecution"/>);
    /// only models whose runtime can do that (containers) accept it.
    /// </summary>
    public int Execute(GuestCommand command, Action<GuestOutputLine> onLine, CancellationToken cancel = default)
    {
        IMachineRuntime runtime = RequireLocal(MachineState.Running, "given a command");
        if (runtime is not ICommandExecution execution)
            throw new MachineStateException($"machine '{Name}' uses model '{Model}', which cannot run commands inside the machine");
        return execution.Execute(command, onLine, cancel);
    }

    /// <summary>Types <paramref name="text"/> into the guest's console; the guest reads it as it has room.</summary>
    /// <exception cref="MachineStateException">The machine is not Running or Paused in this process.</exception>
    public void SendInput(string text)
    {
        lock (_lock)
        {
            if (_runtime == null || _console is not { } console || _record.State is not (MachineState.Running or MachineState.Paused))
                throw new MachineStateException($"machine '{Name}' is {_record.State}; only a Running or Paused machine takes console input");
            console.SendInput(text);
        }
    }

    /// <summary>
    /// The console bytes from <paramref name="offset"/> on: what fits in <paramref name="buffer"/> from console.log
    /// (and its rotated files), plus the live channel's unflushed tail (a prompt without its line end) when the log
    /// is read to its end and this process runs the machine; moves the offset past them. <c>More</c>: the log has
    /// more to read now. The live channel alone is not enough: its window starts empty when the machine starts, yet
    /// it answers offsets before that with zeros.
    /// </summary>
    public (ReadOnlyMemory<byte> Bytes, bool More) ReadConsole(ref long offset, byte[] buffer)
    {
        int read = ConsoleLog.Read(ConsoleLogPath, ref offset, buffer);
        if (read == buffer.Length) return (buffer, true);
        if (Console is not { } live || !IsLocal || live.Position <= offset) return (buffer.AsMemory(0, read), false);
        byte[] withTail = [.. buffer.AsSpan(0, read), .. live.ReadFrom(ref offset)];
        return (withTail, false);
    }

    /// <summary>Waits at most <paramref name="timeout"/> for console output past <paramref name="offset"/>; false when none came.</summary>
    public bool WaitForOutput(long offset, TimeSpan timeout, CancellationToken cancel = default)
    {
        if (IsLocal && Console is { } live) return live.WaitForOutput(offset, timeout, cancel);
        cancel.WaitHandle.WaitOne(timeout);
        return false;
    }

    /// <summary>Throws unless the machine is at rest (Created, Stopped or Crashed), saying it cannot <paramref name="verb"/> now.</summary>
    /// <exception cref="MachineStateException">The machine is live.</exception>
    public void RequireAtRest(string verb)
    {
        lock (_lock)
            if (_record.State.IsLive())
                throw new MachineStateException($"machine '{Name}' is {_record.State}; stop it to {verb}");
    }

    /// <summary>Replaces the record through <paramref name="write"/> (which saves it) while the machine is at rest.</summary>
    internal void Redefine(Func<MachineRecord, MachineRecord> write)
    {
        lock (_lock)
        {
            RequireAtRest("change its definition");
            _record = write(_record);
        }
    }

    private IMachineRuntime RequireLocal(MachineState required, string verb)
    {
        lock (_lock)
        {
            if (_record.State != required)
                throw new MachineStateException($"machine '{Name}' is {_record.State}; only a {required} machine can be {verb}");
            return _runtime ?? throw new MachineStateException($"machine '{Name}' runs in process {_record.OwnerProcessId}, not this one");
        }
    }

    /// <summary>
    /// Waits until the machine is in one of <paramref name="states"/>; false on timeout. A machine this process does
    /// not run changes in another (its host, or a process starting it), so its record is read again every 100 ms.
    /// </summary>
    public bool WaitFor(IReadOnlyCollection<MachineState> states, TimeSpan timeout, CancellationToken cancel = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            bool elsewhere;
            lock (_lock)
            {
                if (states.Contains(_record.State)) return true;
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || cancel.IsCancellationRequested) return false;
                Monitor.Wait(_lock, left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
                if (states.Contains(_record.State)) return true;
                elsewhere = _runtime == null && _record.OwnerProcessId != Environment.ProcessId;
            }
            if (elsewhere && _host.Find(Name) is { } now && now != this) Refresh(now._record);
        }
    }

    /// <summary>
    /// Appends a timestamped line to machine.log (a write error is ignored) and raises <see cref="Logged"/>.
    /// Thread-safe.
    /// </summary>
    public void Log(string message)
    {
        try
        {
            File.AppendAllText(Path.Combine(Directory, MachineStore.LogFile), $"{DateTimeOffset.UtcNow:O} {message}\n");
        }
        catch (IOException) { /* the log is a convenience; a full disk must not stop the guest */ }
        Logged?.Invoke(this, message);
    }

    private void SetState(MachineState state, Func<MachineRecord, MachineRecord>? change = null)
    {
        lock (_lock)
        {
            _record = (change?.Invoke(_record) ?? _record) with { State = state };
            if (System.IO.Directory.Exists(Directory)) _host.Store.Save(_record, durable: MustSurviveACrash(state));
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>
    /// Whether a record in <paramref name="state"/> is saved with an fsync. Only a power cut (or a kernel crash)
    /// can lose a write that skipped it, and no machine outlives that: after one, the states of a run (Starting,
    /// Running, Paused, Stopping) are all false. The host's orphan check (<c>VirtualizationHost.Orphaned</c>) turns
    /// any of them whose owner process is gone into Crashed with reason HostProcessEnded; a lost one leaves the last
    /// durable record instead (Created, or Stopped/Crashed with the previous run's exit), which also says that the
    /// machine is not running. So the fsync is paid only where the record says something no later run can restore:
    /// that the machine exists, and how its run ended.
    /// </summary>
    private static bool MustSurviveACrash(MachineState state) => !state.IsLive();

    private static readonly DateTimeOffset ProcessStart = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    /// <summary>The machine as hooks see it.</summary>
    private sealed class HookApi(Machine machine) : IMachineApi
    {
        public string Name => machine.Name;
        public void Log(string message) => machine.Log(message);
        public void RequestStop() => machine._runtime?.RequestStop(new MachineExit(ExitReason.StoppedByUser, Detail: "stopped by a hook"));
        public GuestMemory Memory => machine.Memory ?? throw new MachineStateException($"machine '{Name}' has no memory (not running)");
        public ConsoleChannel Console => machine._console ?? throw new MachineStateException($"machine '{Name}' has no console (not running)");
        public IGuestFiles Files => machine._runtime as IGuestFiles
            ?? throw new MachineStateException($"machine '{Name}' has no files a hook can reach (model '{machine.Model}')");
        public void Fail(string message) => machine._runtime?.RequestStop(new MachineExit(ExitReason.HookError, Detail: message));
    }
}
