using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Engine;

public unsafe class GuestMemoryTests
{
    [Fact]
    public void Ram_is_page_aligned_host_memory_that_reads_back_what_was_written()
    {
        using var memory = new GuestMemory();
        var block = memory.AddRam(0, 0x10000);
        Assert.Equal(0, (long)block.Host % 4096);
        memory.Write(0x1234, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, memory.Read(0x1234, 3));
        Assert.Equal(2, block.Host[0x1235]);
    }

    [Fact]
    public void Only_the_pages_touched_are_resident_on_the_host()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x100000);
        memory.AddRam(0x200000, 0x10000);
        Assert.Equal(0x110000UL, memory.Size);
        Assert.Equal(0UL, memory.ResidentBytes());
        memory.Write(0x1234, [1]);
        memory.Write(0x5000, new byte[0x1001]); // two pages
        memory.Write(0x200000, [1]);
        Assert.Equal(4 * 4096UL, memory.ResidentBytes());
    }

    [Fact]
    public void External_writes_are_announced_so_decoded_code_can_be_dropped()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x1000);
        (ulong, ulong)? seen = null;
        memory.ExternalWrite += (a, n) => seen = (a, n);
        memory.Write(0x10, [0x90, 0x90]);
        Assert.Equal((0x10UL, 2UL), seen);
    }

    [Fact]
    public void Ranges_outside_ram_are_refused()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0x1000, 0x1000);
        Assert.False(memory.IsRam(0x1F00, 0x200));
        Assert.True(memory.TryGetPointer(0x0, 1) == null);
        Assert.Throws<GuestMemoryException>(() => memory.Write(0x1FFF, [1, 2]));
        Assert.Throws<ArgumentException>(() => memory.AddRam(0x1800, 0x1000));
        Assert.Throws<ArgumentException>(() => memory.AddRam(0x3000, 100));
    }
}
