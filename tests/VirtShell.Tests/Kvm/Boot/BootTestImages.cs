namespace VirtShell.Tests.Kvm.Boot;

/// <summary>Small kernels for the loader tests, assembled with nasm, and a scratch folder to put files in.</summary>
internal sealed class BootTestImages : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("virtshell-boot-");

    public string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir.FullName, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>
    /// A Multiboot ELF32 kernel linked at 1 MiB with 4 KiB of bss. It checks EAX for the boot loader's magic, writes
    /// its command line to port 0x80 byte by byte, then the module count and the first module's first byte, then
    /// asks to stop (port 0xF4). A wrong magic writes 0xEE instead.
    /// </summary>
    public static byte[] MultibootElf() => Nasm.Assemble("""
        bits 32
        org 0x100000
        ehdr:
            db 0x7f, "ELF", 1, 1, 1, 0
            times 8 db 0
            dw 2, 3                 ; executable, i386
            dd 1, start, phdr - ehdr, 0, 0
            dw 52, 32, 1, 0, 0, 0
        phdr:
            dd 1, 0, ehdr, ehdr, file_size, file_size + 0x1000, 7, 0x1000
        align 4
            dd 0x1badb002, 3, -(0x1badb002 + 3)
        start:
            cmp eax, 0x2badb002
            jne wrong
            mov esi, [ebx + 16]
        .next:
            lodsb
            test al, al
            jz .done
            out 0x80, al
            jmp .next
        .done:
            mov eax, [ebx + 20]
            out 0x80, al
            mov esi, [ebx + 24]
            mov esi, [esi]
            mov al, [esi]
            out 0x80, al
            out 0xf4, al
        wrong:
            mov al, 0xee
            out 0x80, al
            out 0xf4, al
        file_size equ $ - ehdr
        """);

    public const ulong LinuxLoadAddress = 0x200000;

    /// <summary>
    /// A bzImage in miniature: one setup sector with a protocol 2.15 setup header (relocatable, preferred address
    /// 2 MiB, 1 MiB init_size), then a 32-bit "kernel" that writes to port 0x80 the command line from the zero page,
    /// the e820 entry count and the initrd's first byte, then asks to stop (port 0xF4). A wrong ESI writes 0xEE. Its
    /// 64-bit entry, 0x200 bytes in, writes 'L' and then the command line.
    /// </summary>
    public static byte[] TinyBzImage(ushort protocol = 0x020F, byte loadFlags = 0x01, bool has64BitEntry = true)
    {
        var setup = new byte[1024];
        setup[0x1F1] = 1;                                    // setup_sects
        setup[0x1FE] = 0x55; setup[0x1FF] = 0xAA;
        setup[0x200] = 0xEB; setup[0x201] = 0x6A;            // jmp over the header, which ends at 0x26C
        "HdrS"u8.CopyTo(setup.AsSpan(0x202));
        BitConverter.GetBytes(protocol).CopyTo(setup, 0x206);
        setup[0x211] = loadFlags;
        BitConverter.GetBytes(0x100000u).CopyTo(setup, 0x214);      // code32_start
        BitConverter.GetBytes(0x37FFFFFFu).CopyTo(setup, 0x22C);    // initrd_addr_max
        BitConverter.GetBytes(0x200000u).CopyTo(setup, 0x230);      // kernel_alignment
        setup[0x234] = 1;                                           // relocatable_kernel
        setup[0x236] = (byte)(has64BitEntry ? 1 : 0);               // xloadflags: XLF_KERNEL_64
        BitConverter.GetBytes(2048u).CopyTo(setup, 0x238);          // cmdline_size
        BitConverter.GetBytes(LinuxLoadAddress).CopyTo(setup, 0x258); // pref_address
        BitConverter.GetBytes(0x100000u).CopyTo(setup, 0x260);      // init_size
        byte[] kernel = Nasm.Assemble($"""
            bits 32
            org 0x{LinuxLoadAddress:x}
                cmp esi, 0x7000
                jne wrong
                mov ebx, esi
                mov esi, [ebx + 0x228]
            .next:
                lodsb
                test al, al
                jz .done
                out 0x80, al
                jmp .next
            .done:
                mov al, [ebx + 0x1e8]
                out 0x80, al
                mov esi, [ebx + 0x218]
                mov al, [esi]
                out 0x80, al
                out 0xf4, al
            wrong:
                mov al, 0xee
                out 0x80, al
                out 0xf4, al
                times 0x200 - ($ - $$) db 0
            bits 64
                mov al, 'L'
                out 0x80, al
                cmp rsi, 0x7000
                jne wrong
                mov rbx, rsi
                mov esi, [rbx + 0x228]
            .next64:
                lodsb
                test al, al
                jz .done64
                out 0x80, al
                jmp .next64
            .done64:
                out 0xf4, al
            """);
        return [.. setup, .. kernel];
    }

    public const ulong VmlinuxPhysicalAddress = 0x300000, VmlinuxVirtualAddress = 0xFFFF_FFFF_8130_0000;

    /// <summary>
    /// An x86-64 vmlinux in miniature: an ELF64 with one segment linked high (virtual 0xffffffff81300000) but loaded at
    /// its physical address 3 MiB, entry given physically as Linux's is, and 4 KiB of bss. In long mode it writes 'V'
    /// to port 0x80, then (if RSI is the zero page and the zero page has "HdrS") the command line and the first bss
    /// byte, then asks to stop (port 0xF4). A wrong zero page writes 0xEE.
    /// </summary>
    public static byte[] TinyVmlinux() => Vmlinux("""
            mov al, 'V'
            out 0x80, al
            cmp rsi, 0x7000
            jne wrong
            cmp dword [rsi + 0x202], 'HdrS'
            jne wrong
            mov rbx, rsi
            mov esi, [rbx + 0x228]
        .next:
            lodsb
            test al, al
            jz .done
            out 0x80, al
            jmp .next
        .done:
            mov al, [bss]
            out 0x80, al
            out 0xf4, al
        wrong:
            mov al, 0xee
            out 0x80, al
            out 0xf4, al
        """);

    /// <summary>An ELF64 vmlinux laid out as <see cref="TinyVmlinux"/> whose 64-bit code is <paramref name="body"/>; label <c>bss</c> is its 4 KiB of bss.</summary>
    public static byte[] Vmlinux(string body) => Nasm.Assemble($"""
        bits 64
        org 0x{VmlinuxPhysicalAddress:x}
        ehdr:
            db 0x7f, "ELF", 2, 1, 1, 0
            times 8 db 0
            dw 2, 62                ; executable, x86-64
            dd 1
            dq start, phdr - ehdr, 0
            dd 0
            dw 64, 56, 1, 0, 0, 0
        phdr:
            dd 1, 7
            dq 0, 0x{VmlinuxVirtualAddress:x}, ehdr, file_size, file_size + 0x1000, 0x1000
        start:
        {body}
        file_size equ $ - ehdr
        bss:
        """);
}
