using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Kvm;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Devices;

/// <summary>
/// A boot-sector guest drives the ATA disk as a PIO driver would, through a definition on the emulated model (the
/// interpreter and our 8259s) and on the hardware model (KVM and the in-kernel irqchip): IDENTIFY, WRITE SECTORS with
/// <c>rep outsw</c>, FLUSH CACHE, READ SECTORS EXT with <c>rep insw</c>, compare, and an IRQ 14 counted for every
/// block and completion the ATA protocols interrupt for. It reports through isa-debug-exit.
/// </summary>
[Collection(KvmCollection.Name)]
public sealed class AtaDiskGuestTests : IDisposable
{
    private const int DiskSectors = 32, FirstSector = 2, PatternSectors = 8;

    // Exit codes: 0 all well, else the phase that failed.
    private const string Guest = """
        bits 16
        org 0x7c00
        ATA equ 0x1f0
        ALT equ 0x3f6
        SECTORS equ 8
        LBA equ 2
        PATTERN equ 0x8000
        READBACK equ 0x9000
        IDENTIFY equ 0xa000
            cli
            xor ax, ax
            mov ds, ax
            mov es, ax
            mov ss, ax
            mov sp, 0x7c00
            cld
            ; the 8259 pair as a BIOS leaves it (vectors 08h and 70h, cascade on IRQ 2), only IRQ 14 unmasked
            mov al, 0x11
            out 0x20, al
            out 0xa0, al
            mov al, 0x08
            out 0x21, al
            mov al, 0x70
            out 0xa1, al
            mov al, 0x04
            out 0x21, al
            mov al, 0x02
            out 0xa1, al
            mov al, 0x01
            out 0x21, al
            out 0xa1, al
            mov al, 0xfb
            out 0x21, al
            mov al, 0xbf
            out 0xa1, al
            mov word [0x76 * 4], irq14
            mov word [0x76 * 4 + 2], 0
            sti
            ; the pattern: word j is 5A00h + 3j
            mov di, PATTERN
            mov cx, SECTORS * 256
            mov ax, 0x5a00
        fill:
            stosw
            add ax, 3
            loop fill
            xor bx, bx                  ; interrupts expected so far

            mov byte [phase], 1         ; IDENTIFY: an LBA48 disk
            mov dx, ATA + 6
            mov al, 0xa0
            out dx, al
            inc dx
            mov al, 0xec
            out dx, al
            inc bx
            call wait_irq
            call wait_drq
            mov di, IDENTIFY
            mov cx, 256
            mov dx, ATA
            rep insw
            call wait_done
            test word [IDENTIFY + 83 * 2], 1 << 10
            jz fail

            mov byte [phase], 2         ; WRITE SECTORS, 28-bit: an interrupt after each sector
            mov dx, ATA + 2
            mov al, SECTORS
            out dx, al
            inc dx
            mov al, LBA
            out dx, al
            inc dx
            xor al, al
            out dx, al
            inc dx
            out dx, al
            inc dx
            mov al, 0xe0
            out dx, al
            inc dx
            mov al, 0x30
            out dx, al
            mov si, PATTERN
            mov bp, SECTORS
        write_sector:
            call wait_drq
            mov cx, 256
            mov dx, ATA
            rep outsw
            inc bx
            call wait_irq
            dec bp
            jnz write_sector
            call wait_done

            mov byte [phase], 3         ; FLUSH CACHE
            mov dx, ATA + 7
            mov al, 0xe7
            out dx, al
            inc bx
            call wait_irq
            call wait_done

            mov byte [phase], 4         ; READ SECTORS EXT: high-order bytes first, an interrupt before each sector
            mov dx, ATA + 2
            xor al, al
            out dx, al
            inc dx
            out dx, al
            inc dx
            out dx, al
            inc dx
            out dx, al
            mov dx, ATA + 2
            mov al, SECTORS
            out dx, al
            inc dx
            mov al, LBA
            out dx, al
            inc dx
            xor al, al
            out dx, al
            inc dx
            out dx, al
            inc dx
            mov al, 0x40
            out dx, al
            inc dx
            mov al, 0x24
            out dx, al
            mov di, READBACK
            mov bp, SECTORS
        read_sector:
            inc bx
            call wait_irq
            call wait_drq
            mov cx, 256
            mov dx, ATA
            rep insw
            dec bp
            jnz read_sector
            call wait_done

            mov byte [phase], 5         ; what came back is what went out
            mov si, PATTERN
            mov di, READBACK
            mov cx, SECTORS * 256
            repe cmpsw
            jne fail

            mov byte [phase], 6         ; and no interrupt more than the protocols give
            cmp [irqs], bx
            jne fail
            xor al, al
            jmp exit
        fail:
            mov al, [phase]
        exit:
            out 0xf4, al
            cli
            hlt

        ; Waits until the handler has counted BX interrupts.
        wait_irq:
            cmp [irqs], bx
            jb wait_irq
            ret

        ; Waits for not busy, then wants DRQ and no error.
        wait_drq:
            mov dx, ALT
        .poll:
            in al, dx
            test al, 0x80
            jnz .poll
            test al, 0x21
            jnz fail
            test al, 0x08
            jz fail
            ret

        ; Waits for not busy, then wants ready with no error, no fault and no more data.
        wait_done:
            mov dx, ALT
        .poll:
            in al, dx
            test al, 0x80
            jnz .poll
            and al, 0x69
            cmp al, 0x40
            jne fail
            ret

        irq14:
            push ax
            push dx
            mov dx, ATA + 7
            in al, dx                   ; reading status acknowledges the disk's interrupt
            inc word [irqs]
            mov al, 0x20
            out 0xa0, al
            out 0x20, al
            pop dx
            pop ax
            iret

        irqs dw 0
        phase db 0
            times 510 - ($ - $$) db 0
            dw 0xaa55
        """;

    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-ata-guest-").FullName;
    private readonly byte[] _original = new byte[DiskSectors * 512];

    public AtaDiskGuestTests()
    {
        new Random(1984).NextBytes(_original);
        File.WriteAllBytes(Path.Combine(_folder, "disk.img"), _original);
        File.WriteAllBytes(Path.Combine(_folder, "ata-guest.bin"), Nasm.Assemble(Guest));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Definition(string model, string disk = "ataDisk({ image: './disk.img' })")
    {
        string path = Path.Combine(_folder, $"ata-{model}.js");
        File.WriteAllText(path, $$"""
            import { machine, ataDisk, debugExit } from 'virtshell';
            export default machine({
              name: 'ata-{{model}}', model: '{{model}}', memory: '1M',
              devices: [
                {{disk}},
                debugExit({ port: 0xf4 }),
              ],
              boot: { type: 'bootSector', image: './ata-guest.bin' },
            });
            """);
        return path;
    }

    private static VirtualizationHost NewHost()
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory("virtshell-ata-home-").FullName);
        return new(store, ModelCatalog.CreateRegistry(store.Home), TestDefinitions.Loader());
    }

    private void RunsAndLeavesThePatternInTheImage(string model)
    {
        var vm = NewHost().Create(Definition(model), $"ata-{model}");
        vm.Start();
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], GuestConsole.Timeout), "the guest did not finish");
        Assert.Equal(ExitReason.DebugExit, vm.LastExit!.Reason);
        Assert.True(vm.LastExit.Status == 1, $"the guest failed in phase {vm.LastExit.Status >> 1} (1 identify, 2 write, 3 flush, 4 read, 5 compare, 6 interrupt count)");

        var expected = (byte[])_original.Clone();
        for (int j = 0; j < PatternSectors * 256; j++)
        {
            ushort word = (ushort)(0x5A00 + 3 * j);
            expected[FirstSector * 512 + 2 * j] = (byte)word;
            expected[FirstSector * 512 + 2 * j + 1] = (byte)(word >> 8);
        }
        Assert.Equal(expected, File.ReadAllBytes(Path.Combine(_folder, "disk.img")));
    }

    [Fact]
    public void OnTheInterpreter_TheGuestWritesFlushesAndReadsBack() => RunsAndLeavesThePatternInTheImage("emulated");

    [KvmFact]
    public void OnKvm_TheGuestWritesFlushesAndReadsBack() => RunsAndLeavesThePatternInTheImage("hardware");

    [Fact]
    public void ASecondDisk_ClashesOnThePrimaryChannel_NamingBothLines()
    {
        File.WriteAllBytes(Path.Combine(_folder, "second.img"), new byte[512]);
        var e = Assert.Throws<DefinitionException>(() => NewHost().Validate(
            Definition("emulated", "ataDisk({ image: './disk.img' }),\n    ataDisk({ image: './second.img' })")));
        Assert.Contains("port conflict", e.Message);
        Assert.Contains("ata-emulated.js:6", e.Message);
        Assert.Contains("ata-emulated.js:5", e.Message);
    }

    [Fact]
    public void AParavirtualMachine_RefusesTheDisk_NamingTheLine()
    {
        var e = Assert.Throws<DefinitionException>(() => NewHost().Validate(Definition("paravirtual")));
        Assert.Contains("unknown device type 'ataDisk'", e.Message);
        Assert.Contains("ata-paravirtual.js:5", e.Message);
    }
}
