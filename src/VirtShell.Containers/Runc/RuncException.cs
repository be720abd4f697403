namespace VirtShell.Containers.Runc;

/// <summary>runc refused or failed a command; the message is runc's own explanation.</summary>
public sealed class RuncException(string message) : Exception(message);
