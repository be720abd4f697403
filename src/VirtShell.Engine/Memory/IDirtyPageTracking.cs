namespace VirtShell.Engine.Memory;

/// <summary>
/// Which guest pages were written since the last look, for pre-copy migration: a backend that can see its guest's
/// stores offers it. Pages are <see cref="MemoryBlock.PageSize"/> bytes, numbered from guest-physical address 0.
/// </summary>
public interface IDirtyPageTracking
{
    /// <summary>Starts logging writes; every page counts as clean from this call on.</summary>
    void StartDirtyTracking();

    /// <summary>The guest-physical page numbers written since the start or the last call, sorted; the log is emptied.</summary>
    IReadOnlyList<ulong> CollectDirtyPages();

    /// <summary>Stops logging; idempotent.</summary>
    void StopDirtyTracking();
}
