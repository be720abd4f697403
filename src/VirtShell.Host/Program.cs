using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using VirtShell.Control;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Native;
using VirtShell.Engine.Store;

namespace VirtShell.Host;

/// <summary>
/// <c>virtshell-host HOME NAME</c>: runs machine NAME of the store at HOME. Started by <see cref="HostProcess.Launch"/>;
/// serves the machine's control socket, starts the machine and says so on the starter's pipe. Once the run has
/// ended and its record is saved, it waits as the store's spare (<see cref="Spare"/>) or exits. SIGTERM asks the
/// machine to stop, as <c>Stop-VirtMachine</c> without -TurnOff does. <c>virtshell-host HOME --spare</c> is the
/// same host started ahead of need, waiting for its first machine.
/// </summary>
internal static class Program
{
    /// <summary>How long the answers owed to clients may take once the run has ended.</summary>
    private static readonly TimeSpan ClientGrace = TimeSpan.FromSeconds(2);
    private static readonly MachineState[] Ended = [MachineState.Stopped, MachineState.Crashed];

    private static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine($"usage: {HostProcess.ExecutableName} HOME NAME|{SpareHost.Argument} (started by Start-VirtMachine)");
            return 2;
        }
        var store = new MachineStore(args[0]);
        // Who this host is as a spare, before anything is loaded: a module rebuilt while it runs makes it stale.
        string identity = SpareHost.OwnIdentity();
        HostEngine engine;
        SafeFileHandle? warming = null;
        int status = 0;
        if (args[1] == SpareHost.Argument)
        {
            if (Spare.WarmUp(store) is not { } warm) return 0;
            (engine, warming) = warm;
        }
        else
        {
            _ready = Detach(Path.Combine(store.MachineDirectory(args[1]), MachineStore.HostLogFile));
            engine = HostEngine.Prepare(store);
            status = Run(store, args[1], engine);
        }
        for (string? name; (name = Spare.Wait(store, identity, warming)) is not null; warming = null)
            status = Run(store, name, engine);
        // A rehearsal or a run may leave threads behind that would keep the process alive.
        Environment.Exit(status);
        return status;
    }

    /// <summary>Runs machine <paramref name="name"/>, answering the starter on <see cref="_ready"/>.</summary>
    internal static int Run(MachineStore store, string name, HostEngine engine)
    {
        try
        {
            return Serve(store, name, engine);
        }
        catch (Exception e)
        {
            Answer(HostProcess.ErrorLine(e));
            Console.Error.WriteLine(e);
            return 1;
        }
    }

    /// <summary>Where the starter reads the readiness line from (a pipe, or a spare's connection); -1 once answered.</summary>
    private static int _ready = -1;

    /// <summary>Sets where the readiness line goes: a descriptor this process owns.</summary>
    internal static void AnswerTo(int fd) => _ready = fd;

    private static int Serve(MachineStore store, string name, HostEngine engine)
    {
        var host = new VirtualizationHost(store, engine.Models, engine.Loader);
        var machine = host.Find(name) ?? throw new MachineStateException($"no machine named '{name}' in {store.MachinesDirectory}");
        // One host per machine: a second one (two starts at once) must not take over the socket of the first.
        // The lock goes with the process, however it ends.
        using var hostLock = HostLock(store, name);
        if (machine.State.IsLive() || hostLock is null)
            throw new MachineStateException($"machine '{name}' is {machine.State}; only a Created, Stopped or Crashed machine can start");

        // The socket first, so that a client may wait on the machine while it starts.
        using var server = ControlServer.Listen(HostProcess.SocketPath(store, name), new MachineControl(machine));
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
        {
            signal.Cancel = true;
            ThreadPool.QueueUserWorkItem(_ => machine.Stop(turnOff: false, TimeSpan.FromSeconds(30)));
        });
        machine.Start();
        Answer(HostProcess.ReadyLine);
        while (!machine.WaitFor(Ended, TimeSpan.FromHours(1))) { }
        server.WaitForClients(ClientGrace);
        return 0;
    }

    /// <summary>host.lock in the machine's folder, held; null when another host holds it.</summary>
    private static SafeFileHandle? HostLock(MachineStore store, string name) => Libc.TryLock(Path.Combine(store.MachineDirectory(name), "host.lock"));

    /// <summary>
    /// Leaves the starter's session and terminal, sends standard output and error to <paramref name="log"/>, and
    /// returns a descriptor for the readiness line: the pipe the starter reads.
    /// </summary>
    internal static int Detach(string log)
    {
        Libc.setsid();
        CloseInherited();
        int nullFd = Libc.open("/dev/null", Libc.O_RDONLY, 0);
        int ready = Libc.dup(1);
        if (nullFd >= 0) Libc.dup2(nullFd, 0);
        LogTo(log);
        return ready;
    }

    /// <summary>Sends standard output and error to <paramref name="log"/> (appended), as far as it can be opened.</summary>
    internal static void LogTo(string log)
    {
        int logFd = Libc.open(log, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_APPEND | Libc.O_CLOEXEC, 0x180 /* 0600 */);
        if (logFd < 0) return;
        Libc.dup2(logFd, 1);
        Libc.dup2(logFd, 2);
        Libc.close(logFd);
    }

    /// <summary>
    /// Closes what the starter's process leaked to this one: descriptors without close-on-exec (a shell's pipe,
    /// for one, would keep whoever reads it waiting for as long as the machine runs). The runtime opens its own
    /// descriptors close-on-exec, so those stay.
    /// </summary>
    private static void CloseInherited()
    {
        foreach (var entry in Directory.GetFiles("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), out int fd) && fd > 2 && Libc.fcntl(fd, Libc.F_GETFD, 0) is int flags
                && flags >= 0 && (flags & Libc.FD_CLOEXEC) == 0)
                Libc.close(fd);
        }
    }

    /// <summary>Writes the one line the starter waits for and closes the pipe; later answers go nowhere.</summary>
    private static unsafe void Answer(string line)
    {
        int fd = Interlocked.Exchange(ref _ready, -1);
        if (fd < 0) return;
        var bytes = System.Text.Encoding.UTF8.GetBytes(line + "\n");
        fixed (byte* p = bytes) Libc.write(fd, p, (nuint)bytes.Length);
        Libc.close(fd);
    }
}
