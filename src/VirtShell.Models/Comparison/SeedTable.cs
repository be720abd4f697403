namespace VirtShell.Models.Comparison;

/// <summary>One line of the seed table: the claims a technique makes, before anything is measured.</summary>
public sealed record SeedTableEntry(string Technique, string HowItWorks, string TypicalUse, string GuestChanges, string Examples);

/// <summary>
/// The comparison table the four models come from (issue 11), by model name. Compare-VirtModel puts the measured
/// figures beside these columns; a model the table does not name gets none.
/// </summary>
public static class SeedTable
{
    private static readonly Dictionary<string, SeedTableEntry> Entries = new(StringComparer.OrdinalIgnoreCase)
    {
        ["emulated"] = new("hardware emulation", "CPU, chipset and I/O all emulated", "development, retro games", "none", "Bochs, QEMU"),
        ["hardware"] = new("hardware virtualization", "CPU direct, I/O emulated", "server, desktop", "none", "VMware, VirtualBox, KVM"),
        ["paravirtual"] = new("paravirtualization", "no emulation; a host API for hardware access", "server, desktop", "guest kernel adapted", "Xen, UML"),
        ["container"] = new("OS-level virtualization", "no emulation; one kernel for host and guests", "server", "same OS only", "OpenVZ, Jails"),
    };

    public static SeedTableEntry? For(string model) => Entries.GetValueOrDefault(model);
}
