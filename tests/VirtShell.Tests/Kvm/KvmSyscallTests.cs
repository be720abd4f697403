using VirtShell.Engine.Cpu;

namespace VirtShell.Tests.Kvm;

/// <summary>
/// Ring 3 to ring 0 and back the way a 64-bit kernel does it: SYSCALL into an entry point on a supervisor-only page
/// in the top 2 GiB (where Linux keeps entry_SYSCALL_64), SYSRET out, then a page fault from ring 3. Where the host's
/// KVM leaves SYSCALL half done, the backend finishes it (NestedHostWorkarounds); either way the guest must see what
/// a CPU does.
/// </summary>
[Collection(KvmCollection.Name)]
public class KvmSyscallTests
{
    private const string Guest = """
        KERNEL_ALIAS equ 0xffffffff80000000  ; the first 2 MiB again, supervisor-only
        USER_STACK   equ 0x8000
        KERNEL_STACK equ 0x9000
        IDT          equ 0xa000
        UNMAPPED     equ 0x400000

        start:
            cli
            xor ax, ax
            mov ds, ax
            mov es, ax
            mov ss, ax
            mov sp, 0x7c00
            cld
            mov di, 0x1000
            mov cx, 5 * 4096 / 2
            rep stosw
            mov di, IDT
            mov cx, 4096 / 2
            rep stosw
            mov dword [0x1000], 0x2000 | 7          ; PML4[0]: user
            mov dword [0x2000], 0x3000 | 7
            mov dword [0x3000], 0x87                ; 0-2 MiB, user
            mov dword [0x1000 + 511 * 8], 0x4000 | 3
            mov dword [0x4000 + 510 * 8], 0x5000 | 3
            mov dword [0x5000], 0x83                ; KERNEL_ALIAS: the same 2 MiB, supervisor
            mov eax, cr4
            or eax, 1 << 5
            mov cr4, eax
            mov eax, 0x1000
            mov cr3, eax
            mov ecx, 0xc0000080
            rdmsr
            or eax, (1 << 8) | 1                    ; LME, SCE
            wrmsr
            lgdt [gdt_descriptor]
            mov eax, cr0
            or eax, 0x80000001
            mov cr0, eax
            jmp 0x10:long_mode

        bits 64
        long_mode:
            mov ax, 0x18
            mov ds, ax
            mov es, ax
            mov ss, ax
            mov rsp, KERNEL_STACK
            mov rax, tss
            mov [gdt + 0x40 + 2], ax
            shr rax, 16
            mov [gdt + 0x40 + 4], al
            mov [gdt + 0x40 + 7], ah
            mov ax, 0x40
            ltr ax
            mov rax, KERNEL_ALIAS + page_fault
            mov [IDT + 14 * 16], ax
            mov word [IDT + 14 * 16 + 2], 0x10
            mov byte [IDT + 14 * 16 + 5], 0x8e
            shr rax, 16
            mov [IDT + 14 * 16 + 6], ax
            shr rax, 16
            mov [IDT + 14 * 16 + 8], eax
            lidt [idt_descriptor]
            mov ecx, 0xc0000081                     ; STAR: kernel CS 0x10, user CS32 0x23 (so CS 0x33, SS 0x2b)
            xor eax, eax
            mov edx, 0x00230010
            wrmsr
            mov ecx, 0xc0000082                     ; LSTAR
            mov rax, KERNEL_ALIAS + syscall_entry
            mov rdx, rax
            shr rdx, 32
            wrmsr
            mov ecx, 0xc0000084                     ; SFMASK: IF
            mov eax, 0x200
            xor edx, edx
            wrmsr
            out 0xe9, al                            ; a console line, as a kernel prints before its first process:
                                                    ; the backend looks for the IDT on such exits
            push 0x2b
            push USER_STACK
            push 0x202
            push 0x33
            push user
            iretq

        user:
            syscall
        after_syscall:
            mov byte [UNMAPPED], 1
            jmp $

        syscall_entry:
            mov eax, cs
            out 0x80, eax
            mov eax, ss
            out 0x80, eax
            mov rax, rcx
            sub rax, after_syscall
            out 0x80, eax                           ; 0: RCX holds the return address
            mov rax, r11
            and eax, 0x200
            out 0x80, eax                           ; the user's IF, in R11
            pushfq
            pop rax
            and eax, 0x200
            out 0x80, eax                           ; 0: SFMASK cleared IF
            mov rax, rsp
            out 0x80, eax                           ; SYSCALL leaves RSP alone
            o64 sysret

        page_fault:
            endbr64
            mov eax, [rsp]
            out 0x80, eax                           ; error code
            mov rax, cr2
            out 0x80, eax
            mov eax, [rsp + 16]
            out 0x80, eax                           ; the CS it came from
            out 0xf4, al
            jmp $

        align 16
        gdt:
            dq 0
            dq 0
            dq 0x00209a0000000000                   ; 0x10 kernel code
            dq 0x0000920000000000                   ; 0x18 kernel data
            dq 0x00cffa000000ffff                   ; 0x20 user code, 32-bit
            dq 0x0000f20000000000                   ; 0x28 user data
            dq 0x0020fa0000000000                   ; 0x30 user code
            dq 0
            dq 0x0000890000000067                   ; 0x40 TSS, base set above
            dq 0
        gdt_descriptor:
            dw gdt_descriptor - gdt - 1
            dd gdt
        idt_descriptor:
            dw 256 * 16 - 1
            dq IDT
        tss:
            dd 0
            dq KERNEL_STACK                         ; RSP0
            times 0x68 - 12 db 0
        """;

    [KvmFact]
    public void A_ring_3_syscall_enters_ring_0_at_lstar_and_sysret_and_page_faults_from_ring_3_still_reach_the_kernel()
    {
        using var m = new KvmTestMachine();
        m.LoadRealMode(Guest);

        var exit = m.RunToExit();

        Assert.True(exit.Reason == CpuExitReason.ExitRequested, $"{exit.Reason}: {exit.Detail}\n{m.Cpu.GetState().Dump()}");
        uint[] seen = [.. m.Recorder.Writes.Select(w => w.Value)];
        Assert.Equal([0x10u, 0x18u, 0u, 0x200u, 0u, 0x8000u, 0x6u, 0x400000u, 0x33u], seen);
        Assert.Equal(m.Vm.RepairsSyscalls ? 1 : 0, m.Cpu.CompletedSyscalls);
    }
}
