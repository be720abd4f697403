using System.Net.Sockets;
using System.Text.Json.Serialization;
using StreamJsonRpc;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.State;

namespace VirtShell.Control;

/// <summary>
/// The control protocol: JSON-RPC 2.0 (StreamJsonRpc) over a machine's Unix socket, messages framed by
/// Content-Length headers as in LSP, bodies by System.Text.Json with enums as their names. The methods are those of
/// <see cref="VirtShell.Engine.Machines.IMachineControl"/>, under their C# names.
/// </summary>
public static class ControlProtocol
{
    /// <summary>A JSON-RPC connection over <paramref name="socket"/>, not listening yet; disposing it closes the socket.</summary>
    public static JsonRpc Connection(Socket socket)
    {
        var formatter = new SystemTextJsonFormatter();
        formatter.JsonSerializerOptions.Converters.Add(new JsonStringEnumConverter());
        var stream = new NetworkStream(socket, ownsSocket: true);
        return new JsonRpc(new HeaderDelimitedMessageHandler(stream, stream, formatter));
    }

    /// <summary>The engine exception a host process threw, rebuilt from its type name and message.</summary>
    public static Exception EngineException(string? typeName, string message) => typeName switch
    {
        "VirtShell.Engine.Machines.MachineStateException" => new MachineStateException(message),
        "VirtShell.Engine.Machines.HookException" => new HookException(message),
        "VirtShell.Engine.Machines.GuestCommandException" => new GuestCommandException(message),
        "VirtShell.Engine.Machines.CheckpointException" => new CheckpointException(message),
        "VirtShell.Engine.Checkpoints.CheckpointNotFoundException" => new CheckpointNotFoundException(message),
        "VirtShell.Engine.State.StateNotSupportedException" => new StateNotSupportedException(message),
        { } type when type.StartsWith("VirtShell.Engine.Definitions.", StringComparison.Ordinal)
            || type.StartsWith("VirtShell.Scripting.", StringComparison.Ordinal) => new DefinitionException(message),
        "System.ArgumentException" or "System.ArgumentOutOfRangeException" => new ArgumentException(message),
        "System.UnauthorizedAccessException" => new UnauthorizedAccessException(message),
        "System.IO.IOException" => new IOException(message),
        "System.OperationCanceledException" or "System.Threading.Tasks.TaskCanceledException" => new OperationCanceledException(message),
        _ => new MachineStateException(message),
    };
}
