using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime;
using System.Text;
using Microsoft.Win32.SafeHandles;
using VirtShell.Control;
using VirtShell.Engine.Native;
using VirtShell.Engine.Store;

namespace VirtShell.Host;

/// <summary>
/// The host as a spare (<see cref="SpareHost"/>): it does everything a host does before it knows its machine (the
/// runtime's start, the model registry, V8, the record's serializer), then waits for one starter, and from there
/// is that machine's host, answering on the starter's connection. A host whose run has ended is as warm as a spare
/// can be, so it becomes the store's spare when the store has none ready; a restart then finds a spare at once
/// instead of one still warming up.
/// </summary>
internal static class Spare
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    /// <summary>
    /// A host that has grown past this after its run ends instead of waiting: what its machine left behind (a leak,
    /// a heap grown for a large guest) should not be kept for the next one.
    /// </summary>
    private const long RejoinWorkingSetLimit = 512L << 20;

    /// <summary>
    /// <c>--spare</c>: warms up (one spare warms up at a time per store) and returns the engine with the warming
    /// lock still held, so that no starter starts another in the moment before it becomes the spare; null when
    /// another spare is warming up.
    /// </summary>
    public static (HostEngine Engine, SafeFileHandle Warming)? WarmUp(MachineStore store)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(SpareHost.SocketPath(store))!);
        Libc.close(Program.Detach(SpareHost.LogPath(store)));
        var warming = SpareHost.TryLockWarming(store);
        if (warming is null) return null;
        var engine = HostEngine.Prepare(store);
        Host.WarmUp.Run(engine);
        return (engine, warming);
    }

    /// <summary>
    /// Waits as the store's spare, unless the store has one (or spares are off, or this host has grown too large),
    /// and returns the name of the machine a starter handed it, with the answer and the log set to that machine;
    /// null when this host is done. <paramref name="identity"/> is this host's, taken before it loaded anything.
    /// </summary>
    public static string? Wait(MachineStore store, string identity, SafeFileHandle? warming)
    {
        if (warming is null)
        {
            // Its store deleted with the machine (the lock would make its folder again).
            if (!SpareHost.Enabled || !Directory.Exists(store.MachinesDirectory)) return null;
            // Back from a run: its machine's garbage goes before the size is judged and the host waits.
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            if (Environment.WorkingSet > RejoinWorkingSetLimit) return null;
            Program.LogTo(SpareHost.LogPath(store));
        }
        string socketPath = SpareHost.SocketPath(store);
        SafeFileHandle? spareLock;
        using (warming) spareLock = SpareHost.TryLock(store);
        if (spareLock is null) return null;   // a store has one spare

        Socket? starter;
        using (spareLock)
        {
            try
            {
                using var listener = Listen(socketPath);
                starter = WaitForStarter(listener, socketPath);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                return null;   // the store went away
            }
            // From here on, whatever happens, this is no longer the store's spare: the next starter makes another.
            try { File.Delete(socketPath); } catch (IOException) { }   // gone with its store
        }
        if (starter is null) return null;

        string? theirs, name;
        using (starter)
        {
            starter.ReceiveTimeout = (int)RequestTimeout.TotalMilliseconds;
            try
            {
                var reader = new StreamReader(new NetworkStream(starter, ownsSocket: false), Encoding.UTF8);
                theirs = reader.ReadLine();
                name = reader.ReadLine();
            }
            catch (IOException)
            {
                return null;
            }
            if (theirs != identity || name is null)
            {
                starter.Send(Encoding.UTF8.GetBytes(SpareHost.StaleLine + "\n"));
                return null;
            }
            try
            {
                MachineStore.ValidateName(name);
            }
            catch (ArgumentException e)
            {
                starter.Send(Encoding.UTF8.GetBytes(HostProcess.ErrorLine(e) + "\n"));
                return null;
            }
            // The answer goes on the connection, which outlives this Socket object as a descriptor of its own.
            Program.AnswerTo(Libc.dup((int)starter.Handle));
        }
        Program.LogTo(Path.Combine(store.MachineDirectory(name), MachineStore.HostLogFile));
        return name;
    }

    private static Socket Listen(string socketPath)
    {
        // The lock is held, so a socket file there is one a dead spare left.
        File.Delete(socketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        if (Libc.chmod(socketPath, 0x180 /* 0600 */) != 0) throw Libc.Error("chmod");
        listener.Listen(1);
        return listener;
    }

    /// <summary>The first starter's connection; null once the spare has waited long enough or its store is gone.</summary>
    private static Socket? WaitForStarter(Socket listener, string socketPath)
    {
        var idle = Stopwatch.StartNew();
        var limit = SpareHost.IdleLimit;
        while (idle.Elapsed < limit && File.Exists(socketPath))
            if (listener.Poll(TimeSpan.FromSeconds(1), SelectMode.SelectRead)) return listener.Accept();
        return null;
    }
}
