using VirtShell.Engine.Boot;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Engine;

public class BootLoaderTests
{
    private static string Image(byte[] bytes)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "guest.bin");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void A_flat_real_mode_image_starts_at_its_load_address()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x100000);
        var state = BootLoaders.Load(new BootSpec { Image = Image([0xF4]), LoadAddress = 0x7C00 }, memory);
        Assert.Equal(0xF4, memory.Read(0x7C00, 1)[0]);
        Assert.Equal(0x7C00UL, state.Cs.Base + state.Rip);
        Assert.Equal(0UL, state.Cr0 & 1);
    }

    [Fact]
    public void A_flat_protected_mode_image_gets_flat_segments()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x200000);
        var state = BootLoaders.Load(new BootSpec { Image = Image([0xF4]), LoadAddress = 0x100000, Mode = CpuStartMode.Protected }, memory);
        Assert.Equal(0x100000UL, state.Rip);
        Assert.Equal(1UL, state.Cr0 & 1);
        Assert.Equal(0xFFFF_FFFFu, state.Cs.Limit);
    }

    [Fact]
    public void A_boot_sector_needs_its_signature()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x100000);
        var sector = new byte[512];
        var e = Assert.Throws<DefinitionException>(() => BootLoaders.Load(new BootSpec { Kind = BootKind.BootSector, Image = Image(sector) }, memory));
        Assert.Contains("55 AA", e.Message);
        sector[510] = 0x55; sector[511] = 0xAA;
        var state = BootLoaders.Load(new BootSpec { Kind = BootKind.BootSector, Image = Image(sector) }, memory);
        Assert.Equal(0x7C00UL, state.Rip);
        Assert.Equal(0x80UL, state.Rdx);
    }

    [Fact]
    public void Images_that_do_not_fit_or_do_not_exist_are_definition_errors()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x1000);
        var location = new SourceLocation("/defs/big.js", 9);
        var e = Assert.Throws<DefinitionException>(() =>
            BootLoaders.Load(new BootSpec { Image = Image(new byte[0x2000]), LoadAddress = 0, Source = location }, memory));
        Assert.Contains("big.js:9", e.Message);
        e = Assert.Throws<DefinitionException>(() =>
            BootLoaders.Load(new BootSpec { Image = "/nonexistent/guest.bin", Source = location }, memory));
        Assert.Contains("/nonexistent/guest.bin", e.Message);
    }
}
