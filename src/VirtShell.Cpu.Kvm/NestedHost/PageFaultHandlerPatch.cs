namespace VirtShell.Cpu.Kvm.NestedHost;

/// <summary>
/// The INT3 on the guest's page-fault handler (see <see cref="NestedHostWorkarounds"/>), one per VM since every vCPU
/// enters the same handler; any vCPU may move it (under its lock) and any may take the hit.
/// </summary>
internal sealed class PageFaultHandlerPatch
{
    /// <summary>The handler's linear address, or 0 while nothing is patched.</summary>
    public ulong Handler;
    public ulong Physical;
    /// <summary>The first byte of the instruction the INT3 stands in; the rest is still in memory after it.</summary>
    public byte DisplacedByte;
}
