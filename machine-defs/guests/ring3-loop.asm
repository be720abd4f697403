; A boot sector that enters 64-bit long mode, drops to ring 3 and runs a loop there, then powers off through
; isa-debug-exit (port 0xF4; IOPL 3 lets ring 3 do port I/O). Under KVM on a host that is itself a VM, ring-0 code
; is emulated by the host kernel while ring-3 code runs natively: this guest shows that fast path.
;   nasm -f bin [-DITERATIONS=n] [-DOUT_EXITS] ring3-loop.asm
; By default the loop is the CPU benchmark's 10-instruction round of ALU, memory and branch work (scripts/bench/
; guests/loop.asm in 64-bit registers). OUT_EXITS makes it ITERATIONS writes to an unclaimed port instead: each one
; is a VM exit to the user-space device model, which measures what an exit costs.

%ifndef ITERATIONS
  %define ITERATIONS 1000000
%endif
UNCLAIMED_PORT equ 0x2e0        ; nothing answers it on VirtShell's PC or QEMU's
DEBUG_EXIT     equ 0xf4
PML4           equ 0x1000       ; identity map of the first 2 MiB, one large page, user-accessible
PDPT           equ 0x2000
PD             equ 0x3000
USER_STACK     equ 0x7000
BUFFER         equ 0x8000       ; 1 KiB of scratch the loop reads and writes, above the boot sector

bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    cld
    mov di, PML4
    mov cx, 3 * 4096 / 2
    rep stosw
    mov dword [PML4], PDPT | 7          ; present, writable, user
    mov dword [PDPT], PD | 7
    mov dword [PD], 0x87                ; 2 MiB page at 0: present, writable, user, large

    mov eax, cr4
    or eax, 1 << 5                      ; PAE
    mov cr4, eax
    mov eax, PML4
    mov cr3, eax
    mov ecx, 0xc0000080                 ; EFER
    rdmsr
    or eax, 1 << 8                      ; LME
    wrmsr
    lgdt [gdt_descriptor]
    mov eax, cr0
    or eax, 0x80000001                  ; PG, PE: long mode is active from here
    mov cr0, eax
    jmp 0x08:long_mode

bits 64
long_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    push 0x23                           ; SS: user data, RPL 3
    push USER_STACK
    push 0x3002                         ; RFLAGS: IOPL 3, interrupts off
    push 0x1b                           ; CS: user code, RPL 3
    push user
    iretq

user:
    mov rcx, ITERATIONS
%ifdef OUT_EXITS
    mov dx, UNCLAIMED_PORT
.loop:
    out dx, al
    dec rcx
    jnz .loop
%else
    xor eax, eax
    xor ebx, ebx
    xor edi, edi
.loop:
    add eax, ecx
    xor ebx, eax
    mov [BUFFER + rdi * 4], eax
    add edi, 1
    and edi, 255
    mov edx, [BUFFER + rdi * 4]
    add ebx, edx
    rol eax, 3
    dec rcx
    jnz .loop
%endif
    xor al, al
    out DEBUG_EXIT, al
.off:
    jmp .off

align 8
gdt:
    dq 0
    dq 0x00209a0000000000               ; 0x08: 64-bit code, ring 0
    dq 0x0000920000000000               ; 0x10: data, ring 0
    dq 0x0020fa0000000000               ; 0x18: 64-bit code, ring 3
    dq 0x0000f20000000000               ; 0x20: data, ring 3
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd gdt

    times 510 - ($ - $$) db 0
    dw 0xaa55
