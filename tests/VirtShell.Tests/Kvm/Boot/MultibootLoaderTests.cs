using System.Buffers.Binary;
using System.Text;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Kvm.Boot;

public class MultibootLoaderTests
{
    private static uint U32(GuestMemory m, ulong at) => BinaryPrimitives.ReadUInt32LittleEndian(m.Read(at, 4));
    private static ulong U64(GuestMemory m, ulong at) => BinaryPrimitives.ReadUInt64LittleEndian(m.Read(at, 8));

    private static string CString(GuestMemory m, ulong at)
    {
        var bytes = new List<byte>();
        for (byte b; (b = m.Read(at++, 1)[0]) != 0;) bytes.Add(b);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    [Fact]
    public void An_elf_kernel_is_loaded_at_its_physical_address_with_bss_zeroed_and_the_cpu_in_flat_protected_mode()
    {
        using var files = new BootTestImages();
        byte[] kernel = BootTestImages.MultibootElf();
        using var memory = new GuestMemory();
        memory.AddRam(0, 4 << 20);
        memory.Write(0x100000 + (ulong)kernel.Length, Enumerable.Repeat((byte)0xCC, 0x1000).ToArray());

        var state = new MultibootLoader().Load(new BootSpec { Kind = BootKind.Multiboot, Image = files.Write("k.elf", kernel) }, memory);

        Assert.Equal(kernel, memory.Read(0x100000, kernel.Length));
        Assert.All(memory.Read(0x100000 + (ulong)kernel.Length, 0x1000), b => Assert.Equal(0, b));
        Assert.Equal(MultibootLoader.BootloaderMagic, (uint)state.Rax);
        Assert.Equal(MultibootLoader.InfoAddress, state.Rbx);
        Assert.Equal(1UL, state.Cr0 & 1);
        Assert.Equal(0UL, state.Cr0 & 0x8000_0000);
        Assert.Equal(SegmentState.Flat32(0x08, code: true), state.Cs);
        Assert.Equal(0UL, state.Rflags & 0x200);
        Assert.Equal(U32(memory, 0x100000 + 24), (uint)state.Rip); // e_entry
        // The GDT it points at has the flat descriptors behind the selectors in use.
        Assert.Equal(0x00CF_9B00_0000_FFFFUL, U64(memory, state.Gdtr.Base + 0x08));
        Assert.Equal(0x00CF_9300_0000_FFFFUL, U64(memory, state.Gdtr.Base + 0x10));
    }

    [Fact]
    public void The_information_structure_carries_memory_command_line_modules_and_the_memory_map()
    {
        using var files = new BootTestImages();
        using var memory = new GuestMemory();
        memory.AddRam(0, 8 << 20);
        var spec = new BootSpec
        {
            Kind = BootKind.Multiboot,
            Image = files.Write("k.elf", BootTestImages.MultibootElf()),
            CommandLine = "console=ttyS0 quiet",
            Modules =
            [
                new BootModule { Path = files.Write("a.mod", [1, 2, 3]), CommandLine = "first arg" },
                new BootModule { Path = files.Write("b.mod", new byte[5000]) },
            ],
        };

        new MultibootLoader().Load(spec, memory);
        ulong mbi = MultibootLoader.InfoAddress;

        uint flags = U32(memory, mbi);
        Assert.Equal(1u << 0 | 1u << 2 | 1u << 3 | 1u << 6 | 1u << 9, flags);
        Assert.Equal(639u, U32(memory, mbi + 4));                      // mem_lower, KiB below the EBDA
        Assert.Equal(7u * 1024, U32(memory, mbi + 8));                 // mem_upper, KiB from 1 MiB
        Assert.Equal("console=ttyS0 quiet", CString(memory, U32(memory, mbi + 16)));
        Assert.Equal("VirtShell", CString(memory, U32(memory, mbi + 64)));

        Assert.Equal(2u, U32(memory, mbi + 20));
        ulong mods = U32(memory, mbi + 24);
        uint aStart = U32(memory, mods), aEnd = U32(memory, mods + 4), bStart = U32(memory, mods + 16), bEnd = U32(memory, mods + 20);
        Assert.True(aStart >= 0x100000 + 0x1000 && aStart % 4096 == 0, $"first module at 0x{aStart:x}");
        Assert.Equal(aStart + 3, aEnd);
        Assert.Equal(new byte[] { 1, 2, 3 }, memory.Read(aStart, 3));
        Assert.Equal("first arg", CString(memory, U32(memory, mods + 8)));
        Assert.Equal(spec.Modules[1].Path, CString(memory, U32(memory, mods + 24)));
        Assert.True(bStart >= aEnd && bStart % 4096 == 0);
        Assert.Equal(bStart + 5000, bEnd);

        uint mapLength = U32(memory, mbi + 44);
        ulong map = U32(memory, mbi + 48);
        var entries = new List<(ulong Base, ulong Length, uint Type)>();
        for (ulong at = map; at < map + mapLength; at += 4 + U32(memory, at))
            entries.Add((U64(memory, at + 4), U64(memory, at + 12), U32(memory, at + 20)));
        Assert.Equal([(0UL, 0x9FC00UL, 1u), (0x9FC00UL, 0x60400UL, 2u), (0x100000UL, 7UL << 20, 1u)], entries);
    }

    [Fact]
    public void A_kernel_without_a_multiboot_header_is_refused_with_its_name()
    {
        using var files = new BootTestImages();
        using var memory = new GuestMemory();
        memory.AddRam(0, 4 << 20);
        var spec = new BootSpec { Kind = BootKind.Multiboot, Image = files.Write("plain.bin", new byte[4096]) };
        var e = Assert.Throws<DefinitionException>(() => new MultibootLoader().Load(spec, memory));
        Assert.Contains("plain.bin", e.Message);
        Assert.Contains("not a Multiboot kernel", e.Message);
    }

    [Fact]
    public void A_kernel_bigger_than_ram_or_a_missing_module_is_a_definition_error()
    {
        using var files = new BootTestImages();
        using var memory = new GuestMemory();
        memory.AddRam(0, 1 << 20); // nothing at 1 MiB, where the kernel is linked
        string kernel = files.Write("k.elf", BootTestImages.MultibootElf());
        var tooSmall = Assert.Throws<DefinitionException>(() => new MultibootLoader().Load(new BootSpec { Kind = BootKind.Multiboot, Image = kernel }, memory));
        Assert.Contains("does not fit", tooSmall.Message);

        using var bigger = new GuestMemory();
        bigger.AddRam(0, 4 << 20);
        var spec = new BootSpec { Kind = BootKind.Multiboot, Image = kernel, Modules = [new BootModule { Path = "/nonexistent/initrd.img" }] };
        var missing = Assert.Throws<DefinitionException>(() => new MultibootLoader().Load(spec, bigger));
        Assert.Contains("/nonexistent/initrd.img", missing.Message);
    }

    [Fact]
    public void An_a_out_kludge_kernel_loads_where_its_header_says()
    {
        using var files = new BootTestImages();
        byte[] kernel = Nasm.Assemble("""
            bits 32
            org 0x200000
            header:
                dd 0x1badb002, 0x10000, -(0x1badb002 + 0x10000)
                dd header, header, load_end, bss_end, entry
            entry:
                hlt
            load_end:
            bss_end equ load_end + 0x100
            """);
        using var memory = new GuestMemory();
        memory.AddRam(0, 4 << 20);
        var state = new MultibootLoader().Load(new BootSpec { Kind = BootKind.Multiboot, Image = files.Write("k.bin", kernel) }, memory);
        Assert.Equal(kernel, memory.Read(0x200000, kernel.Length));
        Assert.Equal(0x200000UL + 32, state.Rip);
    }

    [Fact]
    public void A_kernel_linked_over_the_loaders_low_area_gets_the_boot_information_after_its_modules()
    {
        using var files = new BootTestImages();
        byte[] kernel = Nasm.Assemble("""
            bits 32
            org 0x8000
            header:
                dd 0x1badb002, 0x10000, -(0x1badb002 + 0x10000)
                dd header, header, load_end, bss_end, entry
            entry:
                hlt
            load_end:
            bss_end equ load_end + 0x2000
            """);
        using var memory = new GuestMemory();
        memory.AddRam(0, 4 << 20);
        var spec = new BootSpec
        {
            Kind = BootKind.Multiboot,
            Image = files.Write("low.bin", kernel),
            CommandLine = "low.bin arg",
            Modules = [new BootModule { Path = files.Write("environ", "NR_CPUS=1\n"u8.ToArray()) }],
        };

        var state = new MultibootLoader().Load(spec, memory);

        Assert.Equal(kernel, memory.Read(0x8000, kernel.Length));
        ulong mbi = state.Rbx, kernelEnd = 0x8000 + (ulong)kernel.Length + 0x2000;
        ulong module = U32(memory, U32(memory, mbi + 24));
        Assert.True(module >= kernelEnd && mbi > module, $"kernel ends 0x{kernelEnd:x}, module at 0x{module:x}, information at 0x{mbi:x}");
        Assert.Equal("NR_CPUS=1\n", CString(memory, module));
        Assert.Equal("low.bin arg", CString(memory, U32(memory, mbi + 16)));
        Assert.True(state.Rsp > module && state.Gdtr.Base > module);
        Assert.Equal(0x00CF_9B00_0000_FFFFUL, U64(memory, state.Gdtr.Base + 0x08));
    }
}
