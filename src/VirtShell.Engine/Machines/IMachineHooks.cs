using VirtShell.Engine.Console;
using VirtShell.Engine.Memory;

namespace VirtShell.Engine.Machines;

/// <summary>
/// Code the definition runs at points of a machine's life. Implementations run it on their own thread with a time
/// budget; an error they report as <see cref="HookException"/> turns into a machine error.
/// </summary>
public interface IMachineHooks : IDisposable
{
    /// <summary>Runs to completion before the first instruction; an error stops the boot.</summary>
    void BeforeBoot(IMachineApi vm);

    /// <summary>Queued: called in order, but the guest does not wait for it.</summary>
    void OnConsoleLine(IMachineApi vm, string line);

    /// <summary>
    /// Runs once the run has ended, before the runtime is released; an error is logged, the exit stands.
    /// </summary>
    void OnExit(IMachineApi vm, MachineExit exit);
}

/// <summary>What a hook may do with its machine.</summary>
public interface IMachineApi
{
    /// <summary>The machine's name.</summary>
    string Name { get; }
    /// <summary>Writes to machine.log (<c>vm.log</c>).</summary>
    void Log(string message);
    /// <summary>Asks the machine to stop; returns at once (the hook may be running on the machine's behalf).</summary>
    void RequestStop();
    /// <summary>
    /// Guest RAM; throws <see cref="MachineStateException"/> when the machine is not running or has no RAM.
    /// </summary>
    GuestMemory Memory { get; }
    /// <summary>
    /// The live console; throws <see cref="MachineStateException"/> when the machine is not running.
    /// </summary>
    ConsoleChannel Console { get; }
    /// <summary>The guest's files, where its model has files a hook can reach (containers); otherwise it throws.</summary>
    IGuestFiles Files { get; }
    /// <summary>Reports a hook failure: the machine stops with reason HookError.</summary>
    void Fail(string message);
}

/// <summary>
/// A hook failed (threw, timed out, or ran after its script engine was released); the message says which hook and
/// where.
/// </summary>
public sealed class HookException(string message, Exception? inner = null) : Exception(message, inner);
