namespace VirtShell.Cpu.Kvm;

/// <summary>A KVM call failed; the message names the call and the host's error.</summary>
public class KvmException(string message) : Exception(message);

/// <summary>This host cannot run KVM guests; <see cref="Exception.Message"/> says why, in words a user can act on.</summary>
public sealed class KvmUnavailableException(string reason) : KvmException(reason);
