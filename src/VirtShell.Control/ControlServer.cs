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
    private readonly string _path;
    private readonly HashSet<JsonRpc> _connections = [];
    private readonly CancellationTokenSource _closing = new();

    private ControlServer(Socket listener, string path, IMachineControl target)
    {
        _listener = listener;
        _path = path;
        _target = target;
        _ = Task.Run(AcceptAsync);
    }

    private const uint OwnerReadWrite = 0x180; // 0600

    /// <summary>Binds <paramref name="socketPath"/> (replacing a socket a dead host left there) and starts serving <paramref name="target"/>.</summary>
    public static ControlServer Listen(string socketPath, IMachineControl target)
    {
        File.Delete(socketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            if (Libc.chmod(socketPath, OwnerReadWrite) != 0) throw Libc.Error("chmod");
            listener.Listen(64);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        return new ControlServer(listener, socketPath, target);
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
        _listener.Dispose();
        File.Delete(_path);
        List<JsonRpc> left;
        lock (_connections) left = [.. _connections];
        foreach (var rpc in left) rpc.Dispose();
    }
}
