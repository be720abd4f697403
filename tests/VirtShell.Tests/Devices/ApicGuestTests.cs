using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Kvm;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Devices;

/// <summary>
/// A flat 32-bit guest on the emulated model uses the APICs as an APIC-aware kernel does: finds the APIC in CPUID, MSR
/// 1Bh (read, moved, a reserved bit faulting) and the MP table, software-enables the local APIC and masks LINT0, takes
/// a one-shot timer interrupt and checks EOI emptied the ISR, then routes the 8254's IRQ 0 through I/O APIC pin 2 and
/// takes it. It reports through isa-debug-exit.
/// </summary>
public sealed class ApicGuestTests : IDisposable
{
    // Exit codes: 0 all well, else the phase that failed.
    private const string Guest = """
        bits 32
        org 0x100000
        LAPIC equ 0xfee00000
        IOAPIC equ 0xfec00000
            lgdt [gdtr]
            jmp 0x08:flat
        flat:
            mov ax, 0x10
            mov ds, ax
            mov es, ax
            mov ss, ax
            mov esp, 0x90000

            mov byte [phase], 1         ; CPUID.1:EDX.APIC
            mov eax, 1
            cpuid
            test edx, 1 << 9
            jz fail

            mov byte [phase], 2         ; IA32_APIC_BASE: FEE00000h, enabled, bootstrap processor
            mov ecx, 0x1b
            rdmsr
            cmp eax, 0xfee00900
            jne fail
            test edx, edx
            jnz fail

            mov byte [phase], 3         ; the MP floating pointer in the last KiB of base memory
            cmp dword [0x9fc00], '_MP_'
            jne fail
            mov esi, [0x9fc04]
            cmp dword [esi], 'PCMP'
            jne fail

            mov eax, timer_isr
            mov ebx, 0x40
            call set_gate
            mov eax, pit_isr
            mov ebx, 0x41
            call set_gate
            mov eax, spurious_isr
            mov ebx, 0xff
            call set_gate
            mov eax, gp_isr
            mov ebx, 13
            call set_gate
            lidt [idtr]

            mov byte [phase], 8         ; WRMSR 1Bh: a reserved bit (x2APIC enable) is #GP, a new base moves the window
            mov ecx, 0x1b
            xor edx, edx
            mov eax, 0xfee00c00
            wrmsr
            cmp dword [gp_hits], 1
            jne fail
            mov eax, 0xfed00800
            wrmsr
            cmp dword [0xfed00030], 0x00050014
            jne fail
            mov eax, 0xfee00800
            wrmsr

            mov byte [phase], 4         ; local APIC version, enable, one-shot timer at vector 40h
            mov eax, [LAPIC + 0x30]
            cmp eax, 0x00050014
            jne fail
            mov dword [LAPIC + 0xf0], 0x1ff
            mov dword [LAPIC + 0x350], 0x10700  ; LINT0 masked: the 8259 no longer reaches the CPU
            mov dword [LAPIC + 0x3e0], 3        ; divide by 16
            mov dword [LAPIC + 0x320], 0x40
            mov dword [LAPIC + 0x380], 100000   ; 1.6 ms
            sti
        .wait:
            hlt
            cmp dword [timer_hits], 0
            je .wait
            cli
            mov byte [phase], 5         ; EOI left nothing in service, the count ran out
            cmp dword [LAPIC + 0x120], 0
            jne fail
            cmp dword [LAPIC + 0x390], 0
            jne fail

            mov byte [phase], 6         ; IRQ 0 through I/O APIC pin 2 at vector 41h, edge, to APIC 0
            mov dword [IOAPIC], 0x15
            mov dword [IOAPIC + 0x10], 0
            mov dword [IOAPIC], 0x14
            mov dword [IOAPIC + 0x10], 0x41
            mov al, 0x34                ; 8254 channel 0, rate generator, 100 Hz
            out 0x43, al
            mov al, 0x9c
            out 0x40, al
            mov al, 0x2e
            out 0x40, al
            sti
        .wait_pit:
            hlt
            cmp dword [pit_hits], 2
            jb .wait_pit
            cli
            mov byte [phase], 7         ; and nothing else came
            cmp dword [spurious_hits], 0
            jne fail
            mov byte [phase], 0
        fail:
            movzx eax, byte [phase]
            out 0xf4, al
            hlt

        ; EAX = handler, EBX = vector: a 32-bit interrupt gate to CS 08h
        set_gate:
            lea edi, [idt + ebx * 8]
            mov [edi], ax
            mov word [edi + 2], 0x08
            mov word [edi + 4], 0x8e00
            shr eax, 16
            mov [edi + 6], ax
            ret

        timer_isr:
            inc dword [timer_hits]
            mov dword [LAPIC + 0xb0], 0
            iret
        pit_isr:
            inc dword [pit_hits]
            mov dword [LAPIC + 0xb0], 0
            iret
        spurious_isr:
            inc dword [spurious_hits]
            iret
        gp_isr:                         ; counts, and skips the 2-byte WRMSR that faulted
            inc dword [gp_hits]
            add esp, 4
            add dword [esp], 2
            iret

        align 8
        gdt:
            dq 0
            dq 0x00cf9a000000ffff
            dq 0x00cf92000000ffff
        gdtr:
            dw 3 * 8 - 1
            dd gdt
        idtr:
            dw 256 * 8 - 1
            dd idt
        timer_hits dd 0
        pit_hits dd 0
        spurious_hits dd 0
        gp_hits dd 0
        phase db 0
        align 8
        idt:
            times 256 * 8 db 0
        """;

    private readonly string _folder = Directory.CreateTempSubdirectory("virtshell-apic-guest-").FullName;

    public ApicGuestTests() => File.WriteAllBytes(Path.Combine(_folder, "apic-guest.bin"), Nasm.Assemble(Guest));

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void OnTheInterpreter_TheGuestTakesATimerInterruptAndAnIoApicRoutedIrq()
    {
        string definition = Path.Combine(_folder, "apic-guest.js");
        File.WriteAllText(definition, """
            import { machine, debugExit } from 'virtshell';
            export default machine({
              name: 'apic-guest', model: 'emulated', memory: '2M',
              devices: [debugExit({ port: 0xf4 })],
              boot: { image: './apic-guest.bin', load: 0x100000, mode: 'protected' },
            });
            """);
        var store = new MachineStore(Directory.CreateTempSubdirectory("virtshell-apic-home-").FullName);
        var vm = TestDefinitions.Host(store)
            .Create(definition, "apic-guest");
        vm.Start();
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], GuestConsole.Timeout), "the guest did not finish");
        Assert.Equal(ExitReason.DebugExit, vm.LastExit!.Reason);
        Assert.True(vm.LastExit.Status == 1, $"the guest failed in phase {vm.LastExit.Status >> 1} " +
            "(1 CPUID, 2 RDMSR 1Bh, 3 MP table, 8 WRMSR 1Bh, 4 APIC timer, 5 ISR/count after EOI, 6 I/O APIC IRQ 0, 7 spurious)");
    }
}
