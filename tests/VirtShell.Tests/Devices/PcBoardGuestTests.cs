using System.Globalization;
using System.Text.RegularExpressions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Kvm;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Devices;

/// <summary>
/// A boot-sector guest uses the board as a BIOS-less program would: PIT channel 2 through port 0x61 (OUT2 at
/// terminal count), the CMOS memory sizes, the clock after an update (UIP rising and falling), the PCI host bridge
/// through 0xCF8/0xCFC, the i8042 self-test, and finally the keyboard controller's reset pulse, which must end the
/// run as a guest reset. A failed check leaves through isa-debug-exit with its phase.
/// </summary>
[Collection(KvmCollection.Name)]
public sealed class PcBoardGuestTests : IDisposable
{
    private const string Guest = """
        bits 16
        org 0x7c00
        COM1 equ 0x3f8
            cli
            xor ax, ax
            mov ds, ax
            mov ss, ax
            mov sp, 0x7c00
            cld

            mov byte [phase], 1         ; channel 2 in mode 0, gated by port 0x61: OUT2 rises at terminal count
            in al, 0x61
            and al, 0xfc
            or al, 0x01
            out 0x61, al
            mov al, 0xb0
            out 0x43, al
            xor al, al
            out 0x42, al
            mov al, 0x10                ; 0x1000 clocks, 3.4 ms
            out 0x42, al
            in al, 0x61
            test al, 0x20
            jnz fail
            mov ecx, 0x1000000
        .out2:
            in al, 0x61
            test al, 0x20
            jnz .out2_high
            dec ecx
            jnz .out2
            jmp fail
        .out2_high:

            mov byte [phase], 2         ; NVRAM as a BIOS leaves it for 32 MiB, and valid RAM
            mov si, nvram
        .nvram:
            lodsw                       ; al = index, ah = expected value
            test al, al
            jz .nvram_done
            call cmos
            cmp al, ah
            jne fail
            jmp .nvram
        .nvram_done:

            mov byte [phase], 3         ; an update: UIP rises, then falls, and the time is fresh
            mov ecx, 0x8000000
        .uip_high:
            mov al, 0x0a
            call cmos
            test al, 0x80
            jnz .uip_low
            dec ecx
            jnz .uip_high
            jmp fail
        .uip_low:
            mov al, 0x0a
            call cmos
            test al, 0x80
            jnz .uip_low
            mov si, rtc_text
            call print
            mov al, 0x04
            call cmos
            call bcd
            mov al, ':'
            call putc
            mov al, 0x02
            call cmos
            call bcd
            mov al, ':'
            call putc
            xor al, al
            call cmos
            call bcd
            mov si, newline
            call print

            mov byte [phase], 4         ; 00:00.0 is the host bridge
            mov dx, 0xcf8
            mov eax, 0x80000000
            out dx, eax
            mov dx, 0xcfc
            in eax, dx
            cmp eax, 0x00081b36
            jne fail

            mov byte [phase], 5         ; the keyboard controller's self-test
            mov al, 0xaa
            out 0x64, al
            mov cx, 0xffff
        .obf:
            in al, 0x64
            test al, 0x01
            jnz .obf_full
            loop .obf
            jmp fail
        .obf_full:
            in al, 0x60
            cmp al, 0x55
            jne fail

            mov byte [phase], 6         ; reset: whatever runs after the pulse is a failure
            mov si, resetting
            call print
            mov al, 0xfe
            out 0x64, al
            mov ecx, 0x1000000
        .after:
            dec ecx
            jnz .after
        fail:
            mov al, [phase]
            out 0xf4, al
            cli
            hlt

        cmos:                           ; al = index -> al = value
            out 0x70, al
            in al, 0x71
            ret

        bcd:                            ; prints the BCD byte in al
            push ax
            shr al, 4
            call digit
            pop ax
            and al, 0x0f
        digit:
            add al, '0'
        putc:
            push dx
            push ax
            mov dx, COM1 + 5
        .thre:
            in al, dx
            test al, 0x20
            jz .thre
            pop ax
            mov dx, COM1
            out dx, al
            pop dx
            ret

        print:                          ; si = zero-terminated text
            lodsb
            test al, al
            jz .done
            call putc
            jmp print
        .done:
            ret

        nvram:  db 0x15, 0x80, 0x16, 0x02, 0x17, 0x00, 0x18, 0x7c, 0x30, 0x00, 0x31, 0x7c, 0x34, 0x00, 0x35, 0x01
                db 0x0d, 0x80, 0
        rtc_text db 'RTC ', 0
        newline db 13, 10, 0
        resetting db 'resetting', 13, 10, 0
        phase db 0
            times 510 - ($ - $$) db 0
            dw 0xaa55
        """;

    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-board-guest-").FullName;

    public PcBoardGuestTests() => File.WriteAllBytes(Path.Combine(_folder, "board-guest.bin"), Nasm.Assemble(Guest));

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Definition(string model)
    {
        string path = Path.Combine(_folder, $"board-{model}.js");
        File.WriteAllText(path, $$"""
            import { machine, uart16550, debugExit } from 'virtshell';
            export default machine({
              name: 'board-{{model}}', model: '{{model}}', memory: '32M',
              devices: [
                uart16550({ port: 0x3f8, irq: 4, console: true }),
                debugExit({ port: 0xf4 }),
              ],
              boot: { type: 'bootSector', image: './board-guest.bin' },
            });
            """);
        return path;
    }

    private void ReadsTheBoardAndResets(string model)
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory("virtshell-board-home-").FullName);
        var vm = TestDefinitions.Host(store)
            .Create(Definition(model), $"board-{model}");
        vm.Start();
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], GuestConsole.Timeout), "the guest did not finish");
        string console = File.ReadAllText(vm.ConsoleLogPath);
        Assert.True(vm.LastExit!.Reason == ExitReason.GuestReset,
            $"the run ended with {vm.LastExit} (phase {vm.LastExit.Status >> 1}: 1 PIT channel 2, 2 NVRAM, 3 UIP, 4 PCI, 5 i8042, 6 reset); console: {console}");
        Assert.Equal(MachineState.Stopped, vm.State);
        Assert.Contains("resetting", console);

        var rtc = Regex.Match(console, @"RTC (\d\d:\d\d:\d\d)");
        Assert.True(rtc.Success, $"no time on the console: {console}");
        var shown = TimeSpan.ParseExact(rtc.Groups[1].Value, @"hh\:mm\:ss", CultureInfo.InvariantCulture);
        double behind = (DateTime.UtcNow.TimeOfDay - shown).TotalSeconds;
        if (behind < -43200) behind += 86400; // the clock passed midnight between the read and now
        Assert.InRange(behind, -2, GuestConsole.Timeout.TotalSeconds);
    }

    [Fact]
    public void OnTheInterpreter_TheGuestFindsTheBoardAndResetsIt() => ReadsTheBoardAndResets("emulated");

    [KvmFact]
    public void OnKvm_TheGuestFindsTheBoardAndResetsIt() => ReadsTheBoardAndResets("hardware");
}
