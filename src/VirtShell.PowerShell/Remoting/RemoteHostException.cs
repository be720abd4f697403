namespace VirtShell.PowerShell.Remoting;

/// <summary>A failure on another host, or in reaching it; the message names the host, <see cref="ComputerName"/> too.</summary>
public sealed class RemoteHostException(string computerName, string message, Exception? inner = null) : Exception(message, inner)
{
    public string ComputerName { get; } = computerName;
}
