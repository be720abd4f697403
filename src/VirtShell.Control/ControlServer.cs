using System.Net.Sockets;
using StreamJsonRpc;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Native;

namespace VirtShell.Control;

/// <summary>
/// Serves a machine's engine API on its control socket: a Unix socket of mode 0600 (connecting needs write
/// permission, which the umask already denies others between bind and chmod), one JSON-RPC connection per client,
/// any number at once.
/// </summary>
public sealed class ControlServer : IDisposable
{
    private readonly Socket _listener;
    private readonly IMachineControl _target;
    private readonly HashSet<JsonRpc> _connections = [];
    private readonly CancellationTokenSource _closing = new();
    /// <summary>
    /// The folder the socket was bound in, held open: the machine may be removed and made again under its name while
    /// this server ends, with a new host's socket at the same path, which this server must not remove.
    /// </summary>
    private readonly int _folder;

    private ControlServer(Socket listener, int folder, IMachineControl target)
    {
        _listener = listener;
        _folder = folder;
        _target = target;
        _ = Task.Run(AcceptAsync);
    }

    private const uint OwnerReadWrite = 0x180; // 0600

    /// <summary>Binds <paramref name="socketPath"/> (replacing a socket a dead host left there) and starts serving <paramref name="target"/>.</summary>
    public static ControlServer Listen(string socketPath, IMachineControl target)
    {
        int folder = Libc.open(Path.GetDirectoryName(Path.GetFullPath(socketPath))!, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (folder < 0) throw Libc.Error($"open {Path.GetDirectoryName(socketPath)}");
        File.Delete(socketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Bound through the folder's descriptor: a closed socket's file is removed by the name it was bound
            // with, and this name can only ever mean this folder, even once the path names a new one.
            listener.Bind(new UnixDomainSocketEndPoint($"/proc/self/fd/{folder}/{Path.GetFileName(socketPath)}"));
            if (Libc.chmod(socketPath, OwnerReadWrite) != 0) throw Libc.Error("chmod");
            listener.Listen(64);
        }
        catch
        {
            listener.Dispose();
            Libc.close(folder);
            throw;
        }
        return new ControlServer(listener, folder, target);
    }

    /// <summary>Clients connected now.</summary>
    public int ConnectionCount { get { lock (_connections) return _connections.Count; } }

    private async Task AcceptAsync()
    {
        while (!_closing.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_closing.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            var rpc = ControlProtocol.Connection(client);
            rpc.AddLocalRpcTarget<IMachineControl>(_target, null);
            lock (_connections) _connections.Add(rpc);
            _ = rpc.Completion.ContinueWith(_ =>
            {
                lock (_connections) _connections.Remove(rpc);
                rpc.Dispose();
            }, TaskScheduler.Default);
            rpc.StartListening();
        }
    }

    /// <summary>Waits until every client has hung up (they do after their call), or <paramref name="limit"/> has passed.</summary>
    public void WaitForClients(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (ConnectionCount > 0 && DateTime.UtcNow < deadline) Thread.Sleep(10);
    }

    /// <summary>Stops accepting, removes the socket file and drops the connections left.</summary>
    public void Dispose()
    {
        _closing.Cancel();
        _listener.Dispose();   // which removes its socket file, through the folder it was bound in
        Libc.close(_folder);
        List<JsonRpc> left;
        lock (_connections) left = [.. _connections];
        foreach (var rpc in left) rpc.Dispose();
    }
}
