using System.Net.Sockets;
using System.Text.Json.Serialization;
using StreamJsonRpc;

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
}
