using VirtShell.Cpu.Kvm.Native;
using VirtShell.Engine.Models;

namespace VirtShell.Cpu.Kvm;

/// <summary>Whether this host can run KVM guests, and if not, why.</summary>
public static class KvmHost
{
    public const string DevicePath = KvmSystem.DevicePath;

    /// <summary>
    /// Available when /dev/kvm opens read-write, speaks API 12 and has the capabilities every VM here needs
    /// (user memory, in-kernel irqchip and PIT, TSS and identity-map addresses, extended CPUID, immediate exit).
    /// </summary>
    public static ModelAvailability GetAvailability() => GetAvailability(DevicePath);

    internal static ModelAvailability GetAvailability(string devicePath)
    {
        try
        {
            using var system = KvmSystem.Open(devicePath);
            return ModelAvailability.Available;
        }
        catch (KvmException e)
        {
            return ModelAvailability.Unavailable(e.Message);
        }
    }
}
