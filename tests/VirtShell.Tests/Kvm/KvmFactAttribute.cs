using VirtShell.Cpu.Kvm;

namespace VirtShell.Tests.Kvm;

/// <summary>A fact that needs a usable /dev/kvm; elsewhere it is skipped with the reason the host gives.</summary>
public sealed class KvmFactAttribute : FactAttribute
{
    private static readonly string? Unavailable = KvmHost.GetAvailability() is { IsAvailable: false } a ? a.Reason : null;

    public KvmFactAttribute()
    {
        if (Unavailable != null) Skip = $"KVM unavailable: {Unavailable}";
    }
}
