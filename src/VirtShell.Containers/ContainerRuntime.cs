using System.Diagnostics;
using System.Text;
using VirtShell.Containers.Bundle;
using VirtShell.Containers.Cgroups;
using VirtShell.Containers.Checkpoint;
using VirtShell.Containers.Definition;
using VirtShell.Containers.Native;
using VirtShell.Containers.Network;
using VirtShell.Containers.Rootfs;
using VirtShell.Containers.Runc;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;

namespace VirtShell.Containers;

/// <summary>
/// One run of a container machine. Creating it prepares everything runc needs (overlay rootfs, network, bundle) and
/// checks that the program exists in the rootfs, so a definition error fails the start itself; beforeBoot hooks then
/// see the rootfs before any process runs. <see cref="Run"/> starts the container with one <c>runc run --detach</c>
/// and blocks until its init ends. This process holds the container's stdio (output to the console, console input to
/// its stdin) and, as child subreaper, adopts its init to collect the exit status. Disposing leaves nothing behind:
/// runc state, cgroups, processes, mount, network.
/// </summary>
public sealed class ContainerRuntime : IMachineRuntime, ICommandExecution, IGuestFiles, ICheckpointing
{
    /// <summary>How long a command or a pause waits for a start under way before it gives up.</summary>
    private static readonly TimeSpan StartWait = TimeSpan.FromSeconds(30);

    private readonly object _lock = new();
    private readonly object _checkpointLock = new(); // one checkpoint at a time
    private readonly ContainerHost _host;
    private readonly ContainerSettings _settings;
    private readonly ContainerPlacement _placement;
    private readonly MachineServices _services;
    private readonly CgroupView _cgroup;
    private readonly string _machineName;
    private readonly AutoResetEvent _inputPending = new(false);
    private readonly List<Thread> _outputPumps = [];
    private Thread? _inputPump;
    private readonly ManualResetEventSlim _startDone = new(false);
    private Process? _stdio;     // `runc run --detach`, whose redirected pipes are the container's stdio
    private int _initPid;
    private bool _started, _paused, _reaped, _disposed, _killRequested;
    private MachineExit? _stop;
    private Timer? _killTimer;
    private OverlayRootfs _rootfs = null!;
    private ContainerCheckpoint? _resumeFrom; // set: Run resumes this checkpoint instead of starting the program

    private ContainerRuntime(ContainerHost host, ContainerSettings settings, string machineName, MachineServices services)
    {
        _host = host;
        _settings = settings;
        _machineName = machineName;
        _placement = host.Place(machineName);
        _services = services;
        _cgroup = new CgroupView(_placement.CgroupsPath);
    }

    public static ContainerRuntime Create(ContainerHost host, ContainerSettings settings, string machineName, MachineServices services)
    {
        host.ReleaseLeftovers(machineName);
        var runtime = new ContainerRuntime(host, settings, machineName, services);
        try
        {
            runtime.Prepare();
            return runtime;
        }
        catch
        {
            runtime.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A runtime whose <see cref="Run"/> resumes <paramref name="checkpointDirectory"/> (<c>runc restore</c>) instead of
    /// starting the program. Everything that can refuse does so before anything changes: the folder is checked whole
    /// (<see cref="ContainerCheckpoint.Open"/>), it must be of this machine, definition and image, the container must
    /// not be running, and CRIU must work here. Then the machine's upper layer becomes the checkpoint's, and the
    /// rootfs, /dev, network and bundle are made as for a start.
    /// </summary>
    public static ContainerRuntime Restore(ContainerHost host, ContainerSettings settings, string machineName, MachineServices services, string checkpointDirectory)
    {
        var checkpoint = ContainerCheckpoint.Open(checkpointDirectory);
        var runtime = new ContainerRuntime(host, settings, machineName, services) { _resumeFrom = checkpoint };
        string lower = host.Images.Resolve(settings.Rootfs);
        checkpoint.CheckFits(machineName, lower, runtime.BundleConfig());
        if (host.Runc.State(runtime._placement.ContainerId) is { Status: not "stopped" } state)
            throw new MachineStateException($"container '{machineName}' is {state.Status}: stop it before restoring a checkpoint over it");
        if (CheckpointBlocker(settings) is { } reason)
            throw new CheckpointException($"checkpoint '{checkpoint.Directory}' cannot be restored here: {reason}");
        host.ReleaseLeftovers(machineName);
        try
        {
            var rootfs = new OverlayRootfs(lower, runtime._placement.MachineDirectory);
            try { UpperLayer.Restore(checkpoint.Upper, rootfs.Upper, rootfs.Work); }
            catch (IOException e) { throw new CheckpointException($"checkpoint '{checkpoint.Directory}': {e.Message}"); }
            runtime.Prepare();
            return runtime;
        }
        catch
        {
            runtime.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The container's files as it sees them, for beforeBoot hooks (the rootfs is mounted from creation on, before
    /// the process starts). Writes go to the machine's upper layer.
    /// </summary>
    public RootfsFiles Files { get; private set; } = null!;

    void IGuestFiles.WriteFile(string path, ReadOnlySpan<byte> content, uint mode) => Files.WriteFile(path, content, mode);
    byte[] IGuestFiles.ReadFile(string path) => Files.ReadFile(path);

    /// <summary>The container's init as the host sees it (0 before it exists).</summary>
    public int InitPid { get { lock (_lock) return _initPid; } }

    public GuestMemory? Memory => null;

    /// <summary>The cgroup's figures; one the host does not report (a controller absent, the cgroup gone) is null.</summary>
    public MachineCounters Measure() => new()
    {
        CpuTime = Known(_cgroup.CpuUsageNanoseconds()) is { } nanoseconds ? TimeSpan.FromTicks(nanoseconds / 100) : null,
        HostMemoryBytes = Known(_cgroup.MemoryUsage()),
        Processes = Known(_cgroup.Pids()),
        OomKills = Known(_cgroup.OomKills()),
    };

    private static long? Known(long value) => value >= 0 ? value : null;

    private void Prepare()
    {
        string lower = _host.Images.Resolve(_settings.Rootfs);
        var rootfs = _rootfs = new OverlayRootfs(lower, _placement.MachineDirectory);
        rootfs.Mount();
        RootfsGuard.Check(rootfs.Merged, Describe(_settings.Rootfs, lower));
        Files = new RootfsFiles(rootfs.Merged);
        CheckProgram();
        DeviceDirectory.Mount(_placement.MachineDirectory);
        if (_settings.Network is NetworkSettings.Veth veth) VethNetwork.Attach(veth, _placement.Network, _machineName);
        Directory.CreateDirectory(_placement.BundleDirectory);
        OciBundle.Write(_placement.BundleDirectory, _settings, _placement.Rootfs, _placement.DevDirectory, _placement.CgroupsPath, NetworkNamespace);
        _services.Console.InputAvailable += SignalInput;
    }

    /// <summary>The named namespace a veth network is wired into, which runc joins (null for other networks).</summary>
    private string? NetworkNamespace => _settings.Network is NetworkSettings.Veth ? _placement.Network.NamespacePath : null;

    /// <summary>config.json as this machine's definition makes it.</summary>
    private string BundleConfig() =>
        OciBundle.Render(_settings, _placement.Rootfs, _placement.DevDirectory, _placement.CgroupsPath, NetworkNamespace);

    /// <summary>Where a rootfs came from, for messages: the image's own path, not the cache folder it was unpacked to.</summary>
    private static string Describe(RootfsSource source, string lower) => source switch
    {
        RootfsSource.Archive a => $"'{a.Path}'",
        RootfsSource.Directory d => $"'{d.Path}'",
        _ => $"the busybox image '{lower}'",
    };

    /// <summary>
    /// What runc's init would find missing only once the container is being started: the program. Looked up as runc
    /// does (a name without '/' along the process's PATH), inside the rootfs, so the start fails with the field named.
    /// </summary>
    private void CheckProgram()
    {
        string program = _settings.Process.Args[0];
        IEnumerable<string> candidates;
        if (program.Contains('/'))
            candidates = [program.StartsWith('/') ? program : Path.Combine(_settings.Process.Cwd, program)];
        else
        {
            string path = _settings.Process.Env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? "";
            candidates = path.Split(':', StringSplitOptions.RemoveEmptyEntries).Where(d => d.StartsWith('/')).Select(d => $"{d.TrimEnd('/')}/{program}");
        }
        if (!candidates.Any(Files.IsProgram))
            throw new DefinitionException(program.Contains('/')
                ? $"container.process.args[0]: '{program}' is not an executable file in the container's rootfs"
                : $"container.process.args[0]: '{program}' is not found on the process's PATH in the container's rootfs");
    }

    public MachineExit Run()
    {
        lock (_lock)
        {
            if (_stop != null || _disposed)
            {
                _startDone.Set();
                return _stop ?? new MachineExit(ExitReason.StoppedByUser);
            }
        }
        bool launched = false;
        MachineExit? pending;
        bool kill;
        try
        {
            Launch();
            launched = true;
        }
        catch (RuncException e)
        {
            return new MachineExit(ExitReason.InternalError, Detail: e.Message);
        }
        finally
        {
            lock (_lock)
            {
                _started = launched;
                pending = _stop;
                kill = _killRequested;
            }
            _startDone.Set();
        }
        // A stop asked for while runc was starting the container could not reach it then.
        if (pending != null) Deliver(kill);

        int? status = LinuxCalls.WaitForChild(_initPid);
        if (status == null)
        {
            // Someone else reaped our init (a host that ignores SIGCHLD makes .NET reap every child): the status is lost.
            while (LinuxCalls.IsAlive(_initPid)) Thread.Sleep(20);
        }
        lock (_lock) _reaped = true;
        long oomKills = _cgroup.OomKills();
        // Every process of the container died with its init, so the output pipes are at their end.
        foreach (var pump in _outputPumps) pump.Join(TimeSpan.FromSeconds(2));
        _services.Console.Flush();
        lock (_lock) return Classify(status, oomKills, _stop);
    }

    private MachineExit Classify(int? status, long oomKills, MachineExit? requested)
    {
        int? code = status is not { } s ? null : LinuxCalls.Exited(s) ? LinuxCalls.ExitCode(s) : 128 + LinuxCalls.TermSignal(s);
        string? signal = status is { } t && !LinuxCalls.Exited(t) ? SignalName(LinuxCalls.TermSignal(t)) : null;
        if (requested != null) return requested with { Status = code };
        if (oomKills > 0)
            return new MachineExit(ExitReason.OutOfMemory, code,
                $"the OOM killer ended {oomKills} process(es) at the {_settings.MemoryLimitBytes >> 20} MiB memory limit" +
                (signal != null ? $"; init was killed by {signal}" : $"; init exited with {code}"));
        if (status == null) return new MachineExit(ExitReason.GuestPowerOff, null, "the exit status was lost (another waiter reaped the container's init)");
        return new MachineExit(ExitReason.GuestPowerOff, code, signal != null ? $"killed by {signal}" : null);
    }

    private static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP", 2 => "SIGINT", 3 => "SIGQUIT", 4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE",
        9 => "SIGKILL", 11 => "SIGSEGV", 13 => "SIGPIPE", 14 => "SIGALRM", 15 => "SIGTERM", 31 => "SIGSYS",
        _ => $"signal {signal}",
    };

    /// <summary>
    /// Starts the container: one runc process creates and starts it, and its redirected pipes become the container's
    /// stdio. The pumps run from the spawn on, so the first output line is not held up by runc's own exit.
    /// </summary>
    private void Launch()
    {
        ContainerHost.EnsureSubreaper();
        string restoreWork = Path.Combine(_placement.BundleDirectory, "criu-restore");
        var stdio = _resumeFrom is { } checkpoint
            ? _host.Runc.RestoreDetached(_placement.ContainerId, CriuCheck.Find() ?? "criu", _placement.BundleDirectory, checkpoint.Images, restoreWork, _placement.PidFile, _placement.RuncLog)
            : _host.Runc.RunDetached(_placement.ContainerId, _placement.BundleDirectory, _placement.PidFile, _placement.RuncLog);
        lock (_lock) _stdio = stdio;
        _outputPumps.Add(StartThread("stdout", () => PumpOutput(stdio.StandardOutput.BaseStream)));
        _outputPumps.Add(StartThread("stderr", () => PumpOutput(stdio.StandardError.BaseStream)));
        _inputPump = StartThread("stdin", () => PumpInput(stdio.StandardInput.BaseStream));
        try
        {
            RuncClient.WaitUntilStarted(stdio, _placement.ContainerId, _placement.RuncLog);
        }
        catch (RuncException e) when (_resumeFrom != null && CriuLog.LastErrors(Path.Combine(restoreWork, "restore.log")) is { } criu)
        {
            throw new RuncException($"{e.Message} (CRIU: {criu})");
        }
        // The checkpoint was taken frozen, and CRIU restores the freezer cgroup's state as it dumped it: a restored
        // machine runs, as a started one does.
        if (_resumeFrom != null && _host.Runc.State(_placement.ContainerId) is { Status: "paused" }) _host.Runc.Resume(_placement.ContainerId);
        lock (_lock) _initPid = int.Parse(File.ReadAllText(_placement.PidFile).Trim());
    }

    public string? CheckpointUnavailableReason() => CheckpointBlocker(_settings);

    private static string? CheckpointBlocker(ContainerSettings settings)
    {
        if (CriuCheck.UnavailableReason(CriuCheck.Find()) is { } reason) return reason;
        // CRIU dumps a namespace the container made itself, iptables rules included; a veth network's is external.
        if (settings.Network is NetworkSettings.Isolated && ChildProcess.FindProgram("iptables-save") is null)
            return "CRIU saves the container's network namespace with iptables-save, which is not installed (Debian's iptables: ./build.ps1 -Task Bootstrap)";
        return null;
    }

    /// <summary>
    /// Writes the running container to a <see cref="ContainerCheckpoint"/> folder. The container is frozen (runc pause)
    /// from before CRIU's dump until its upper layer is archived, so processes and files are of one moment; then it is
    /// thawed (<paramref name="leaveRunning"/>, or left paused if it was) or killed, ending the run as StoppedByUser
    /// with the checkpoint named. A failure thaws it as it was and leaves no folder.
    /// </summary>
    public void Checkpoint(string directory, bool leaveRunning)
    {
        if (CheckpointUnavailableReason() is { } reason)
            throw new CheckpointException($"container '{_machineName}' cannot be checkpointed here: {reason}");
        directory = Path.GetFullPath(directory);
        if (Directory.Exists(directory) || File.Exists(directory)) throw new CheckpointException($"checkpoint '{directory}': it exists already");
        AwaitStart();
        lock (_checkpointLock)
        {
            bool wasPaused;
            lock (_lock)
            {
                if (!_started || _reaped || _disposed || _stop != null) throw new MachineStateException($"container '{_machineName}' is not running");
                wasPaused = _paused;
                if (!_paused)
                {
                    _host.Runc.Pause(_placement.ContainerId);
                    _paused = true;
                }
            }
            try
            {
                CheckpointWriter.Write(_host.Runc, CriuCheck.Find()!, _machineName, _placement, _rootfs.Upper, _rootfs.Lower, directory, leaveRunning);
            }
            catch (Exception e)
            {
                if (!wasPaused) Resume();
                if (e is IOException or UnauthorizedAccessException)
                    throw new CheckpointException($"checkpoint '{directory}' of container '{_machineName}' failed: {e.Message}");
                throw;
            }
            if (!leaveRunning) Stop(new MachineExit(ExitReason.StoppedByUser, Detail: $"checkpointed to {directory}"), kill: true);
            else if (!wasPaused) Resume();
        }
    }

    /// <summary>Cuts the power: SIGKILL at once (it also escalates a shutdown under way).</summary>
    public void RequestStop(MachineExit exit) => Stop(exit, kill: true);

    /// <summary>SIGTERM, and SIGKILL if the container has not ended after its stopTimeout.</summary>
    public bool RequestGracefulStop()
    {
        Stop(new MachineExit(ExitReason.StoppedByUser), kill: false);
        return true;
    }

    private void Stop(MachineExit exit, bool kill)
    {
        bool started;
        lock (_lock)
        {
            if (_disposed) return;
            bool first = _stop == null;
            _stop ??= exit;
            _killRequested |= kill;
            started = _started;
            if (!first && !kill) return; // a second shutdown request changes nothing; a turn-off escalates
        }
        // Not started: Run sees _stop and either never starts the container or delivers the stop once runc is done.
        if (started) Deliver(kill);
    }

    private void Deliver(bool kill)
    {
        Signal(kill ? "KILL" : "TERM");
        if (!kill)
            lock (_lock)
                if (!_disposed) _killTimer ??= new Timer(_ => Signal("KILL"), null, _settings.StopTimeout, Timeout.InfiniteTimeSpan);
    }

    private void Signal(string signal)
    {
        try
        {
            lock (_lock)
            {
                // The container may have ended (and been deleted) while the signal was on its way.
                if (_reaped || _disposed) return;
                if (_paused) { _host.Runc.Resume(_placement.ContainerId); _paused = false; }
            }
            _host.Runc.Kill(_placement.ContainerId, signal);
        }
        catch (RuncException e)
        {
            // The container may have ended on its own meanwhile; anything else is worth a line in machine.log.
            _services.Log($"stopping container: {e.Message}");
        }
    }

    /// <summary>
    /// Waits for the start <see cref="Run"/> makes (a command given right after Start-VirtMachine can come before the
    /// container exists, or before Run has even begun on the machine's thread).
    /// </summary>
    private void AwaitStart()
    {
        bool pending;
        lock (_lock) pending = !_started && _stop == null && !_disposed;
        if (pending) _startDone.Wait(StartWait);
    }

    public void Pause()
    {
        AwaitStart();
        lock (_lock)
        {
            if (!_started || _reaped) throw new MachineStateException($"container '{_machineName}' is not running");
            if (_paused) return;
            _host.Runc.Pause(_placement.ContainerId);
            _paused = true;
        }
    }

    public void Resume()
    {
        lock (_lock)
        {
            if (!_paused) return;
            _host.Runc.Resume(_placement.ContainerId);
            _paused = false;
        }
    }

    public int Execute(GuestCommand command, Action<GuestOutputLine> onLine, CancellationToken cancel)
    {
        if (command.Arguments.Count == 0 || command.Arguments[0].Length == 0)
            throw new ArgumentException("the command needs at least the program to run", nameof(command));
        AwaitStart();
        lock (_lock)
            if (!_started || _reaped || _disposed) throw new MachineStateException($"container '{_machineName}' is not running");
        if (command.WorkingDirectory is { } cwd && !cwd.StartsWith('/'))
            throw new ArgumentException($"working directory '{cwd}' must be an absolute path inside the container", nameof(command));

        string tag = Guid.NewGuid().ToString("N")[..12];
        string pidFile = Path.Combine(_placement.BundleDirectory, $"exec-{tag}.pid");
        string logFile = Path.Combine(_placement.BundleDirectory, $"exec-{tag}.log");
        try
        {
            var options = new ExecOptions { WorkingDirectory = command.WorkingDirectory, User = command.User, Environment = command.Environment };
            var process = _host.Runc.Exec(_placement.ContainerId, command.Arguments, options, pidFile, logFile);
            try
            {
                // runc reports a failed start on the command's stderr too: stderr lines wait until runc has written
                // the pid file (the command exists), and are dropped when it never does (the error says it once).
                var held = new List<GuestOutputLine>();
                bool started = false;
                void OnStderr(GuestOutputLine line)
                {
                    lock (held)
                    {
                        if (!started && !(started = File.Exists(pidFile))) { held.Add(line); return; }
                        foreach (var h in held) onLine(h);
                        held.Clear();
                    }
                    onLine(line);
                }
                var readers = new[]
                {
                    StartLineReader(process.StandardOutput, false, onLine),
                    StartLineReader(process.StandardError, true, OnStderr),
                };
                using (cancel.Register(() => { try { LinuxCalls.Terminate(process.Id); } catch (IOException) { } }))
                {
                    process.WaitForExit();
                    foreach (var reader in readers) reader.Join();
                }
                if (!File.Exists(pidFile))
                    throw new GuestCommandException(
                        $"'{command.Arguments[0]}' could not be started in container '{_machineName}': {RuncClient.LastError(logFile) ?? $"runc exec exited with {process.ExitCode}"}");
                foreach (var h in held) onLine(h);
                return process.ExitCode;
            }
            finally
            {
                process.DisposeWithPipes();
            }
        }
        finally
        {
            File.Delete(pidFile);
            File.Delete(logFile);
        }
    }

    private static Thread StartLineReader(StreamReader reader, bool isError, Action<GuestOutputLine> onLine)
    {
        var thread = new Thread(() =>
        {
            while (reader.ReadLine() is { } line) onLine(new GuestOutputLine(isError, line));
        }) { IsBackground = true, Name = isError ? "exec-stderr" : "exec-stdout" };
        thread.Start();
        return thread;
    }

    private Thread StartThread(string name, ThreadStart body)
    {
        var thread = new Thread(body) { IsBackground = true, Name = $"{name}:{_machineName}" };
        thread.Start();
        return thread;
    }

    private void PumpOutput(Stream stream)
    {
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                // One chunk per call: the channel stores it in one hold of its lock, so stdout and stderr
                // interleave by write, not by byte.
                _services.Console.WriteFromGuest(buffer.AsSpan(0, n));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { /* the run is being torn down */ }
    }

    private void SignalInput() => _inputPending.Set();

    private void PumpInput(Stream stdin)
    {
        var bytes = new List<byte>();
        try
        {
            // Input typed before the container started is waiting already: serve it first, then wait for more.
            for (bool first = true; ; first = false)
            {
                if (!first) _inputPending.WaitOne();
                lock (_lock) if (_disposed) return;
                bytes.Clear();
                // Console input is typed as on a serial terminal (Enter is CR); with no tty in between, we do what
                // a terminal's ICRNL would, so line-reading programs see their lines end.
                while (_services.Console.TryReadInput(out byte b)) bytes.Add(b == (byte)'\r' ? (byte)'\n' : b);
                if (bytes.Count == 0) continue;
                stdin.Write(bytes.ToArray());
                stdin.Flush();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { /* the container closed its stdin or ended */ }
    }

    public void Dispose()
    {
        Process? stdio;
        bool reap;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            stdio = _stdio;
            _startDone.Set(); // a run that never came: nobody waits for it
            reap = _initPid > 0 && !_reaped;
            _killTimer?.Dispose();
        }
        _services.Console.InputAvailable -= SignalInput;
        _inputPending.Set();
        try
        {
            lock (_lock) if (_paused) _host.Runc.Resume(_placement.ContainerId);
        }
        catch (RuncException) { /* delete --force below copes */ }
        try
        {
            _host.ReleaseLeftovers(_machineName);
            // Here rather than before a start, off its critical path. Should an engine die and leave them, they mislead
            // nobody: runc replaces the pid file whole, and appends its error to the log as the last line.
            if (Directory.Exists(_placement.BundleDirectory))
            {
                File.Delete(_placement.PidFile);
                File.Delete(_placement.RuncLog);
            }
        }
        finally
        {
            // A container stopped before it started (or a failed start) leaves its init for us to reap. Bounded:
            // should runc have failed to kill it, a hung stop is worse than one zombie.
            if (reap && !LinuxCalls.ReapChild(_initPid, TimeSpan.FromSeconds(5)))
                _services.Log($"container init {_initPid} did not end after runc delete");
            foreach (var pump in _outputPumps) pump.Join(TimeSpan.FromSeconds(2));
            _inputPump?.Join(TimeSpan.FromSeconds(2));
            // After the pumps: a pipe closed under a blocked read would not wake it, only keep its fd until it ends.
            stdio?.DisposeWithPipes();
            _inputPending.Dispose();
        }
    }
}
