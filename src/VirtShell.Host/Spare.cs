using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using VirtShell.Control;
using VirtShell.Engine.Native;
using VirtShell.Engine.Store;

namespace VirtShell.Host;

/// <summary>
/// The host as a spare (<see cref="SpareHost"/>): it does everything a host does before it knows its machine (the
/// runtime's start, the model registry, V8, the record's serializer), then waits for one starter, and from there
/// is that machine's host, answering on the starter's connection.
/// </summary>
internal static class Spare
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    public static int Run(MachineStore store)
    {
        string socketPath = SpareHost.SocketPath(store);
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
        Libc.close(Program.Detach(SpareHost.LogPath(store)));
        var spareLock = SpareHost.TryLock(store);
        if (spareLock is null) return 0;   // a store has one spare

        // Who this spare is, before anything is loaded: a module rebuilt while it warms up makes it stale.
        string identity = SpareHost.OwnIdentity();
        var engine = HostEngine.Prepare(store);
        WarmUp.Run(engine);

        Socket listener;
        try
        {
            listener = Listen(socketPath);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            spareLock.Dispose();
            return 0;   // the store went away while the spare warmed up
        }
        using var _ = listener;
        Socket? starter = WaitForStarter(listener, socketPath);
        // From here on, whatever happens, this is no longer the store's spare: the next starter makes another.
        try { File.Delete(socketPath); } catch (IOException) { }   // gone with its store
        spareLock.Dispose();
        if (starter is null) return 0;

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
                return 0;
            }
            if (theirs != identity || name is null)
            {
                starter.Send(Encoding.UTF8.GetBytes(SpareHost.StaleLine + "\n"));
                return 0;
            }
            try
            {
                MachineStore.ValidateName(name);
            }
            catch (ArgumentException e)
            {
                starter.Send(Encoding.UTF8.GetBytes(HostProcess.ErrorLine(e) + "\n"));
                return 1;
            }
            // The answer goes on the connection, which outlives this Socket object as a descriptor of its own.
            Program.AnswerTo(Libc.dup((int)starter.Handle));
        }
        Program.LogTo(Path.Combine(store.MachineDirectory(name), MachineStore.HostLogFile));
        return Program.Run(store, name, engine);
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
        while (idle.Elapsed < SpareHost.IdleLimit && File.Exists(socketPath))
            if (listener.Poll(TimeSpan.FromSeconds(1), SelectMode.SelectRead)) return listener.Accept();
        return null;
    }
}
