using System.Net.Sockets;
using StreamJsonRpc;
using StreamJsonRpc.Protocol;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Native;
using VirtShell.Engine.State;

namespace VirtShell.Control;

/// <summary>
/// The engine API of a machine run by another process, through its control socket. Errors come back as the engine's
/// own exceptions with the host's message, so a caller cannot tell this from a call on the machine itself.
/// </summary>
public sealed class MachineClient : IMachineControl, IDisposable
{
    private readonly JsonRpc _rpc;
    private readonly string _machine;

    private MachineClient(JsonRpc rpc, string machine)
    {
        _rpc = rpc;
        _machine = machine;
        _rpc.StartListening();
    }

    /// <summary>Connects to the control socket at <paramref name="socketPath"/> of machine <paramref name="machine"/>.</summary>
    /// <exception cref="UnauthorizedAccessException">This user may not open the socket.</exception>
    /// <exception cref="MachineStateException">Nothing answers there (the host process is gone).</exception>
    public static MachineClient Connect(string machine, string socketPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw e.SocketErrorCode == SocketError.AccessDenied
                ? new UnauthorizedAccessException(
                    $"machine '{machine}': permission denied opening its control socket {socketPath} ({Owner(socketPath)}); " +
                    "only the user who started the machine (or root) may control it")
                : new MachineStateException($"machine '{machine}': no host process answers on {socketPath} ({e.Message})");
        }
        return new MachineClient(ControlProtocol.Connection(socket), machine);
    }

    private static unsafe string Owner(string path)
    {
        byte* buffer = stackalloc byte[Libc.StatSize];
        if (Libc.stat(path, buffer) != 0) return Libc.Failure("stat", Libc.LastError);
        uint mode = *(uint*)(buffer + Libc.StatModeOffset) & 0xFFF;
        uint uid = *(uint*)(buffer + Libc.StatUidOffset);
        return $"mode {Convert.ToString(mode, 8)}, owned by uid {uid}";
    }

    /// <inheritdoc/>
    public Task<MachineState> GetStateAsync(CancellationToken cancel) => Call<MachineState>(nameof(GetStateAsync), [], cancel);


    /// <inheritdoc/>
    public Task<bool> StopAsync(bool turnOff, double timeoutSeconds, CancellationToken cancel) =>
        Call<bool>(nameof(StopAsync), [turnOff, timeoutSeconds], cancel);

    /// <inheritdoc/>
    public Task PauseAsync(CancellationToken cancel) => Call(nameof(PauseAsync), [], cancel);

    /// <inheritdoc/>
    public Task ResumeAsync(CancellationToken cancel) => Call(nameof(ResumeAsync), [], cancel);

    /// <inheritdoc/>
    public Task SendInputAsync(string text, CancellationToken cancel) => Call(nameof(SendInputAsync), [text], cancel);

    /// <inheritdoc/>
    public Task<ConsoleChunk> ReadConsoleAsync(long offset, int maxBytes, double waitSeconds, CancellationToken cancel) =>
        Call<ConsoleChunk>(nameof(ReadConsoleAsync), [offset, maxBytes, waitSeconds], cancel);

    /// <inheritdoc/>
    public Task<VirtShell.Engine.Console.ConsoleLineResult> ReadLinesAsync(VirtShell.Engine.Console.ConsoleLineQuery query, CancellationToken cancel) =>
        Call<VirtShell.Engine.Console.ConsoleLineResult>(nameof(ReadLinesAsync), [query], cancel);

    /// <inheritdoc/>
    public Task<MachineMeasurement> MeasureAsync(CancellationToken cancel) => Call<MachineMeasurement>(nameof(MeasureAsync), [], cancel);

    /// <inheritdoc/>
    public Task<int> ExecuteAsync(GuestCommand command, IProgress<GuestOutputLine> output, CancellationToken cancel) =>
        Call<int>(nameof(ExecuteAsync), [command, output], cancel);

    /// <inheritdoc/>
    public Task<MachineState> WaitForStateAsync(MachineState[] states, double timeoutSeconds, CancellationToken cancel) =>
        Call<MachineState>(nameof(WaitForStateAsync), [states, timeoutSeconds], cancel);

    /// <inheritdoc/>
    public Task<MachineCheckpoint> CheckpointAsync(string? name, CancellationToken cancel) =>
        Call<MachineCheckpoint>(nameof(CheckpointAsync), [name], cancel);

    /// <inheritdoc/>
    public Task RestoreCheckpointAsync(string name, CancellationToken cancel) => Call(nameof(RestoreCheckpointAsync), [name], cancel);

    /// <inheritdoc/>
    public Task ExportAsync(string path, CancellationToken cancel) => Call(nameof(ExportAsync), [path], cancel);

    /// <inheritdoc/>
    public Task<double> MoveAsync(string model, CancellationToken cancel) => Call<double>(nameof(MoveAsync), [model], cancel);

    /// <inheritdoc/>
    public Task<string?> StartPreCopyAsync(CancellationToken cancel) => Call<string?>(nameof(StartPreCopyAsync), [], cancel);

    /// <inheritdoc/>
    public Task<byte[]?> NextPreCopyPieceAsync(CancellationToken cancel) => Call<byte[]?>(nameof(NextPreCopyPieceAsync), [], cancel);

    /// <inheritdoc/>
    public Task<VirtShell.Engine.Migration.PreCopyPause> PausePreCopyAsync(CancellationToken cancel) =>
        Call<VirtShell.Engine.Migration.PreCopyPause>(nameof(PausePreCopyAsync), [], cancel);

    private async Task Call(string method, object?[] arguments, CancellationToken cancel) =>
        await Call<object?>(method, arguments, cancel).ConfigureAwait(false);

    private async Task<T> Call<T>(string method, object?[] arguments, CancellationToken cancel)
    {
        try
        {
            return await _rpc.InvokeWithCancellationAsync<T>(method, arguments, cancel).ConfigureAwait(false);
        }
        catch (RemoteInvocationException e)
        {
            throw ControlProtocol.EngineException((e.DeserializedErrorData as CommonErrorData)?.TypeName, e.Message);
        }
        catch (ConnectionLostException)
        {
            HostEnded = true;
            throw new MachineStateException($"machine '{_machine}': its host process closed the connection during {method} (it ended)");
        }
    }

    /// <summary>Whether a call failed because the host process closed the connection (its run ended during the call).</summary>
    public bool HostEnded { get; private set; }

    /// <summary>Closes the connection; the machine runs on.</summary>
    public void Dispose() => _rpc.Dispose();
}
