using System.Text;
using VirtShell.Devices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Kvm;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Firmware;

/// <summary>
/// Debian's SeaBIOS and Bochs BIOS run from the reset vector on the emulated model, find the ATA disk and boot its
/// first sector, which reads the next two through INT 13h (CHS, then the EDD packet call a boot loader uses) and
/// prints what it read on COM1, then ends the run through isa-debug-exit.
/// </summary>
public sealed class BiosBootSectorTests : IDisposable
{
    public const string SeaBios = "/usr/share/seabios/bios.bin", BochsBios = "/usr/share/bochs/BIOS-bochs-latest";

    /// <summary>Skips a test whose BIOS image is not installed, naming the Debian package that has it.</summary>
    public sealed class BiosFactAttribute : FactAttribute
    {
        public BiosFactAttribute(string image, string package)
        {
            if (!File.Exists(image)) Skip = $"{image} missing: apt-get install {package}";
        }

        /// <summary>A BIOS and an option ROM it runs, each from its package.</summary>
        public BiosFactAttribute(string image, string package, string rom, string romPackage) : this(image, package)
        {
            if (!File.Exists(rom)) Skip ??= $"{rom} missing: apt-get install {romPackage}";
        }
    }

    private const string BootSector = """
        bits 16
        org 0x7c00
            cli
            xor ax, ax
            mov ds, ax
            mov es, ax
            mov ss, ax
            mov sp, 0x7c00
            sti
            cld
            mov [drive], dl
            cmp dl, 0x80
            jne fail
            mov si, banner
            call print
            mov ax, 0x0201              ; CHS: cylinder 0, head 0, sector 2
            mov cx, 0x0002
            xor dh, dh
            mov dl, [drive]
            mov bx, 0x8000
            int 0x13
            jc fail
            mov si, 0x8000
            call print
            mov ah, 0x41                ; EDD present?
            mov bx, 0x55aa
            mov dl, [drive]
            int 0x13
            jc fail
            cmp bx, 0xaa55
            jne fail
            mov ah, 0x42                ; EDD read of LBA 2
            mov dl, [drive]
            mov si, packet
            int 0x13
            jc fail
            mov si, 0x9000
            call print
            mov al, 0
            out 0xf4, al
            hlt
        fail:
            mov si, failed
            call print
            mov al, 1
            out 0xf4, al
            hlt

        ; SI: a NUL-terminated string, to COM1
        print:
            lodsb
            test al, al
            jz .done
            mov ah, al
            mov dx, 0x3fd
        .wait:
            in al, dx
            test al, 0x20
            jz .wait
            mov dx, 0x3f8
            mov al, ah
            out dx, al
            jmp print
        .done:
            ret

        packet:
            db 0x10, 0
            dw 1
            dw 0x9000, 0
            dq 2
        drive db 0
        banner db "boot sector: started from drive 80h", 13, 10, 0
        failed db "boot sector: INT 13h failed", 13, 10, 0
            times 510 - ($ - $$) db 0
            dw 0xaa55
        """;

    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-bios-").FullName;

    public BiosBootSectorTests()
    {
        var disk = new byte[2048 * 512];  // 1 MiB: two cylinders of 16 heads and 63 sectors, the geometry a BIOS can address by CHS
        Nasm.Assemble(BootSector).CopyTo(disk, 0);
        Encoding.ASCII.GetBytes("sector 1: read through INT 13h AH=02h\r\n\0").CopyTo(disk, 512);
        Encoding.ASCII.GetBytes("sector 2: read through INT 13h AH=42h\r\n\0").CopyTo(disk, 1024);
        File.WriteAllBytes(Path.Combine(_folder, "disk.img"), disk);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Prints through the BIOS's teletype call (INT 10h AH=0Eh) only, then ends the run.</summary>
    private const string TeletypeBootSector = """
        bits 16
        org 0x7c00
            xor ax, ax
            mov ds, ax
            mov si, text
        next:
            lodsb
            test al, al
            jz done
            mov ah, 0x0e
            mov bx, 0x0007
            int 0x10
            jmp next
        done:
            sti                         ; SeaBIOS's serial console sends what it buffered on a timer tick
            mov ah, 0x86                ; so wait 0.2 s before the end
            mov cx, 3
            xor dx, dx
            int 0x15
            mov al, 0
            out 0xf4, al
            hlt
        text db "boot sector: printed through INT 10h", 13, 10, 0
            times 510 - ($ - $$) db 0
            dw 0xaa55
        """;

    /// <param name="debugConsole">Whether the BIOS's debug port is on the console as well; it interleaves with COM1 by the character.</param>
    /// <param name="devices">More devices for the definition, each followed by a comma.</param>
    private string BootsTheDisk(string firmware, string fwCfg = "", bool debugConsole = true, string devices = "")
    {
        string path = Path.Combine(_folder, "bios.js");
        File.WriteAllText(path, $$"""
            import { machine, uart16550, ataDisk, fwCfg, debugConsole, debugExit, vgaText } from 'virtshell';
            export default machine({
              name: 'bios-boot-sector',
              model: 'emulated',
              memory: '32M',
              devices: [
                uart16550({ port: 0x3f8, irq: 4 }),
                ataDisk({ image: './disk.img' }),
                fwCfg({{{fwCfg}}}),
                {{(debugConsole ? "debugConsole({ port: 0x402 })," : "")}}
                debugExit({ port: 0xf4 }),
                {{devices}}
              ],
              boot: { type: 'firmware', image: '{{firmware}}' },
            });
            """);
        var store = new MachineStore(Directory.CreateTempSubdirectory("virtshell-bios-home-").FullName);
        var vm = TestDefinitions.Host(store).Create(path);
        vm.Start();
        bool ended = vm.WaitFor([MachineState.Stopped, MachineState.Crashed], TimeSpan.FromSeconds(60));
        long offset = 0;
        string console = Encoding.ASCII.GetString(vm.Console!.ReadFrom(ref offset));
        if (!ended) vm.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        Assert.True(ended, $"the machine did not finish; console:\n{console}");
        Assert.True(vm.LastExit!.Reason == ExitReason.DebugExit && vm.LastExit.Status == 1, $"exit {vm.LastExit}; console:\n{console}");
        return console;
    }

    private string BootsTheDiskAndReadsThroughInt13(string firmware)
    {
        string console = BootsTheDisk(firmware);
        Assert.Contains("boot sector: started from drive 80h", console);
        Assert.Contains("sector 1: read through INT 13h AH=02h", console);
        Assert.Contains("sector 2: read through INT 13h AH=42h", console);
        return console;
    }

    [BiosFact(SeaBios, "seabios")]
    public void SeaBios_boots_the_ata_disk_and_serves_int13()
    {
        string console = BootsTheDiskAndReadsThroughInt13(SeaBios);
        Assert.Contains("Found QEMU fw_cfg", console);      // its debug port shows it read our fw_cfg
    }

    [BiosFact(BochsBios, "bochsbios")]
    public void BochsBios_boots_the_ata_disk_and_serves_int13() => BootsTheDiskAndReadsThroughInt13(BochsBios);

    /// <summary>fw_cfg's no-graphics flag turns on SeaBIOS's serial console: INT 10h text reaches COM1.</summary>
    [BiosFact(SeaBios, "seabios")]
    public void SeaBios_with_serialConsole_shows_int10_text_on_com1()
    {
        var disk = File.ReadAllBytes(Path.Combine(_folder, "disk.img"));
        Nasm.Assemble(TeletypeBootSector).CopyTo(disk, 0);
        File.WriteAllBytes(Path.Combine(_folder, "disk.img"), disk);
        string console = BootsTheDisk(SeaBios, "serialConsole: true", debugConsole: false);
        Assert.Contains("SeaBIOS (version", console);       // its own screen
        Assert.Contains("boot sector: printed through INT 10h", console);
    }

    /// <summary>
    /// The Bochs BIOS has no serial console: with <c>vgaText()</c> it runs the VGA BIOS, whose screen, its banner and
    /// the boot sector's INT 10h text become console lines, each once.
    /// </summary>
    [BiosFact(BochsBios, "bochsbios", VgaTextDeviceType.DefaultRom, "vgabios")]
    public void BochsBios_with_vgaText_shows_its_screen_on_the_console()
    {
        var disk = File.ReadAllBytes(Path.Combine(_folder, "disk.img"));
        Nasm.Assemble(TeletypeBootSector).CopyTo(disk, 0);
        File.WriteAllBytes(Path.Combine(_folder, "disk.img"), disk);
        string console = BootsTheDisk(BochsBios, debugConsole: false, devices: "vgaText(),");
        var lines = console.Split('\n').Select(line => line.TrimEnd('\r')).ToList();
        Assert.Contains(lines, line => line.StartsWith("Bochs VGABios", StringComparison.Ordinal));   // the VGA BIOS's banner
        Assert.Contains(lines, line => line.StartsWith("Bochs 2.", StringComparison.Ordinal));        // the system BIOS's
        Assert.Single(lines, "Booting from Hard Disk...");
        Assert.Single(lines, "boot sector: printed through INT 10h");
    }
}
