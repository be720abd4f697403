using System.Buffers.Binary;
using System.Text;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Kvm.Boot;

public class LinuxBootLoaderTests
{
    private const ulong ZeroPage = LinuxBootLoader.ZeroPageAddress;

    private static uint U32(GuestMemory m, ulong at) => BinaryPrimitives.ReadUInt32LittleEndian(m.Read(at, 4));
    private static ulong U64(GuestMemory m, ulong at) => BinaryPrimitives.ReadUInt64LittleEndian(m.Read(at, 8));

    [Fact]
    public void The_kernel_initrd_command_line_and_zero_page_are_where_the_protocol_says()
    {
        using var files = new BootTestImages();
        byte[] image = BootTestImages.TinyBzImage();
        byte[] initrd = Enumerable.Range(0, 10000).Select(i => (byte)i).ToArray();
        using var memory = new GuestMemory();
        memory.AddRam(0, 8 << 20);
        var spec = new BootSpec
        {
            Kind = BootKind.Linux,
            Image = files.Write("bzImage", image),
            Initrd = files.Write("initrd.img", initrd),
            CommandLine = "console=ttyS0 root=/dev/ram0",
        };

        var state = new LinuxBootLoader().Load(spec, memory);

        Assert.Equal(image[1024..], memory.Read(BootTestImages.LinuxLoadAddress, image.Length - 1024));
        // The setup header is copied into the zero page, then the loader's fields are filled in.
        Assert.Equal(image[0x202..0x208], memory.Read(ZeroPage + 0x202, 6));  // "HdrS", version
        Assert.Equal(image[0x258..0x264], memory.Read(ZeroPage + 0x258, 12)); // pref_address, init_size
        Assert.Equal(0xFF, memory.Read(ZeroPage + 0x210, 1)[0]);
        Assert.Equal("console=ttyS0 root=/dev/ram0\0", Encoding.ASCII.GetString(memory.Read(U32(memory, ZeroPage + 0x228), 29)));

        uint initrdAt = U32(memory, ZeroPage + 0x218);
        Assert.Equal((uint)initrd.Length, U32(memory, ZeroPage + 0x21C));
        Assert.Equal(0u, initrdAt % 4096);
        Assert.True(initrdAt + initrd.Length <= 8 << 20 && initrdAt + initrd.Length > (8 << 20) - 4096, $"initrd at 0x{initrdAt:x} is not at the top of RAM");
        Assert.Equal(initrd, memory.Read(initrdAt, initrd.Length));

        Assert.Equal(3, memory.Read(ZeroPage + 0x1E8, 1)[0]);
        Assert.Equal((0x100000UL, 7UL << 20, 1u), (U64(memory, ZeroPage + 0x2D0 + 40), U64(memory, ZeroPage + 0x2D0 + 48), U32(memory, ZeroPage + 0x2D0 + 56)));

        Assert.Equal(BootTestImages.LinuxLoadAddress, state.Rip);
        Assert.Equal(ZeroPage, state.Rsi);
        Assert.Equal(SegmentState.Flat32(0x10, code: true), state.Cs);
        Assert.Equal(SegmentState.Flat32(0x18, code: false), state.Ds);
        Assert.Equal(0x00CF_9B00_0000_FFFFUL, U64(memory, state.Gdtr.Base + 0x10));
        Assert.Equal(0x00CF_9300_0000_FFFFUL, U64(memory, state.Gdtr.Base + 0x18));
        Assert.Equal(0UL, state.Rflags & 0x200);
    }

    [Fact]
    public void The_64_bit_entry_starts_in_long_mode_on_identity_mapped_page_tables()
    {
        using var files = new BootTestImages();
        using var memory = new GuestMemory();
        memory.AddRam(0, 8 << 20);
        var spec = new BootSpec { Kind = BootKind.Linux, Mode = CpuStartMode.Long, Image = files.Write("bzImage", BootTestImages.TinyBzImage()) };

        var state = new LinuxBootLoader().Load(spec, memory);

        Assert.Equal(BootTestImages.LinuxLoadAddress + 0x200, state.Rip);
        Assert.Equal(0x500UL, state.Efer);                     // LME, LMA
        Assert.Equal(0x8000_0011UL, state.Cr0);                 // PG, PE, ET
        Assert.Equal(0x20UL, state.Cr4 & 0x20);                 // PAE
        Assert.Equal(0x2000, state.Cs.Attributes & 0x2000);     // L
        Assert.Equal(ZeroPage, state.Rsi);
        Assert.Equal(0x00AF_9B00_0000_FFFFUL, U64(memory, state.Gdtr.Base + 0x10));
        // PML4[0] -> PDPT, PDPT[3] -> the fourth directory, whose last entry maps 4 GiB - 2 MiB one to one.
        ulong pdpt = U64(memory, state.Cr3) & ~0xFFFUL;
        ulong pd3 = U64(memory, pdpt + 3 * 8) & ~0xFFFUL;
        Assert.Equal((4UL << 30) - (2UL << 20) | 0x83, U64(memory, pd3 + 511 * 8));
    }

    [Fact]
    public void A_vmlinux_goes_to_its_physical_addresses_with_a_made_up_setup_header_and_starts_at_its_64_bit_entry()
    {
        using var files = new BootTestImages();
        byte[] image = BootTestImages.TinyVmlinux();
        using var memory = new GuestMemory();
        memory.AddRam(0, 8 << 20);
        memory.Write(BootTestImages.VmlinuxPhysicalAddress + (ulong)image.Length, Enumerable.Repeat((byte)0xCC, 0x1000).ToArray());
        var spec = new BootSpec
        {
            Kind = BootKind.Linux,
            Mode = CpuStartMode.Long,
            Image = files.Write("vmlinux", image),
            Initrd = files.Write("initrd.img", [1, 2, 3]),
            CommandLine = "console=hvc0",
        };

        var state = new LinuxBootLoader().Load(spec, memory);

        Assert.Equal(image, memory.Read(BootTestImages.VmlinuxPhysicalAddress, image.Length));
        Assert.All(memory.Read(BootTestImages.VmlinuxPhysicalAddress + (ulong)image.Length, 0x1000), b => Assert.Equal(0, b)); // bss
        Assert.Equal("HdrS"u8.ToArray(), memory.Read(ZeroPage + 0x202, 4));
        Assert.Equal(0xAA55, BinaryPrimitives.ReadUInt16LittleEndian(memory.Read(ZeroPage + 0x1FE, 2)));
        Assert.True(BinaryPrimitives.ReadUInt16LittleEndian(memory.Read(ZeroPage + 0x206, 2)) >= 0x020C);
        Assert.Equal(0xFF, memory.Read(ZeroPage + 0x210, 1)[0]);
        Assert.Equal("console=hvc0\0", Encoding.ASCII.GetString(memory.Read(U32(memory, ZeroPage + 0x228), 13)));
        ulong kernelEnd = BootTestImages.VmlinuxPhysicalAddress + (ulong)image.Length + 0x1000;
        Assert.True(U32(memory, ZeroPage + 0x218) >= kernelEnd, "the initrd overlaps the kernel");
        Assert.Equal(new byte[] { 1, 2, 3 }, memory.Read(U32(memory, ZeroPage + 0x218), 3));
        Assert.Equal(3, memory.Read(ZeroPage + 0x1E8, 1)[0]); // the e820 map, as for a bzImage

        // The ELF entry is startup_64's physical address; the CPU is in long mode on the identity map.
        Assert.Equal(BootTestImages.VmlinuxPhysicalAddress + 0x78, state.Rip);
        Assert.Equal(0x500UL, state.Efer);
        Assert.Equal(0x2000, state.Cs.Attributes & 0x2000);
        Assert.Equal(ZeroPage, state.Rsi);
    }

    [Theory]
    [InlineData("32-bit ELF", "neither a bzImage nor an x86-64 vmlinux: not a 64-bit ELF file")]
    [InlineData("vmlinux in protected mode", "boot it with mode 'long'")]
    [InlineData("vmlinux in too little RAM", "give the machine at least 4 MiB")]
    public void A_file_that_is_no_vmlinux_or_cannot_start_as_one_is_a_definition_error(string problem, string expected)
    {
        using var files = new BootTestImages();
        using var memory = new GuestMemory();
        memory.AddRam(0, problem == "vmlinux in too little RAM" ? 0x300000UL : 8UL << 20);
        var spec = new BootSpec
        {
            Kind = BootKind.Linux,
            Image = files.Write("kernel", problem == "32-bit ELF" ? BootTestImages.MultibootElf() : BootTestImages.TinyVmlinux()),
            Mode = problem == "vmlinux in protected mode" ? CpuStartMode.Protected : CpuStartMode.Long,
        };
        var e = Assert.Throws<DefinitionException>(() => new LinuxBootLoader().Load(spec, memory));
        Assert.Contains(expected, e.Message);
        Assert.Contains("kernel", e.Message);
    }

    [Theory]
    [InlineData("not a kernel", "neither a bzImage nor an x86-64 vmlinux")]
    [InlineData("old protocol", "boot protocol 2.04")]
    [InlineData("zImage", "zImage")]
    [InlineData("too little RAM", "at least 3 MiB")]
    [InlineData("long command line", "command line is 3000 bytes")]
    [InlineData("missing initrd", "/nonexistent/initrd")]
    [InlineData("no 64-bit entry", "has no 64-bit entry")]
    public void Bad_input_is_a_definition_error_that_says_what_is_wrong(string problem, string expected)
    {
        using var files = new BootTestImages();
        using var memory = new GuestMemory();
        memory.AddRam(0, problem == "too little RAM" ? 0x280000UL : 8UL << 20);
        var spec = new BootSpec
        {
            Kind = BootKind.Linux,
            Image = files.Write("bzImage", problem switch
            {
                "not a kernel" => new byte[4096],
                "old protocol" => BootTestImages.TinyBzImage(protocol: 0x0204),
                "zImage" => BootTestImages.TinyBzImage(loadFlags: 0),
                "no 64-bit entry" => BootTestImages.TinyBzImage(has64BitEntry: false),
                _ => BootTestImages.TinyBzImage(),
            }),
            CommandLine = problem == "long command line" ? new string('x', 3000) : null,
            Initrd = problem == "missing initrd" ? "/nonexistent/initrd" : null,
            Mode = problem == "no 64-bit entry" ? CpuStartMode.Long : CpuStartMode.Real,
        };
        var e = Assert.Throws<DefinitionException>(() => new LinuxBootLoader().Load(spec, memory));
        Assert.Contains(expected, e.Message);
    }
}
