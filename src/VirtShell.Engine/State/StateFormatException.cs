namespace VirtShell.Engine.State;

/// <summary>
/// A saved state that cannot be read or does not fit the machine: foreign, truncated, corrupt, from a newer format, or
/// for other devices. The message says which and where; nothing was changed when it is thrown.
/// </summary>
public sealed class StateFormatException(string message) : Exception(message);

/// <summary>A machine whose state cannot be saved: a part of it does not implement <see cref="IDeviceState"/>.</summary>
public sealed class StateNotSupportedException(string message) : Exception(message);
