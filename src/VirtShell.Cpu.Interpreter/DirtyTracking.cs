using VirtShell.Engine.Memory;

namespace VirtShell.Cpu.Interpreter;

// Every store the interpreter and its compiled blocks make marks GuestMemory's dirty log (Memory.cs: NoteStored after a
// compiled block's store through a DataPointer pointer, WritePhys and its slow path, which paging's accessed and dirty bits use too), as do devices and loaders through
// GuestMemory, so that log is the whole answer for an interpreted guest.
public sealed partial class InterpreterCpu : IDirtyPageTracking
{
    /// <inheritdoc/>
    public void StartDirtyTracking() => _memory.StartDirtyLog();

    /// <inheritdoc/>
    public IReadOnlyList<ulong> CollectDirtyPages() => _memory.CollectDirtyLog();

    /// <inheritdoc/>
    public void StopDirtyTracking() => _memory.StopDirtyLog();
}
