; A boot sector that enters flat 32-bit protected mode, writes TOUCH_MIB MiB from 16 MiB on — the first half
; xorshift32 noise (what compression cannot shrink), the second half each dword its own index (what it can) — then
; prints "ready" on COM1 and halts with interrupts off, for the checkpoint bench to save and restore.
%ifndef TOUCH_MIB
%define TOUCH_MIB 32
%endif
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    in al, 0x92             ; fast A20 on (a BIOS may leave it off)
    or al, 2
    and al, 0xfe
    out 0x92, al
    lgdt [gdt_descriptor]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp 0x08:flat

bits 32
flat:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    cld
    mov edi, 0x1000000
    mov ecx, TOUCH_MIB * 1024 * 1024 / 8
    mov eax, 2463534242
noise:
    mov edx, eax
    shl edx, 13
    xor eax, edx
    mov edx, eax
    shr edx, 17
    xor eax, edx
    mov edx, eax
    shl edx, 5
    xor eax, edx
    stosd
    dec ecx
    jnz noise
    mov ecx, TOUCH_MIB * 1024 * 1024 / 8
    xor eax, eax
counter:
    stosd
    inc eax
    dec ecx
    jnz counter
    mov esi, ready
    mov dx, 0x3f8
print:
    lodsb
    test al, al
    jz idle
    out dx, al
    jmp print
idle:
    cli
    hlt
    jmp idle

ready db 'ready', 10, 0
align 8
gdt dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
gdt_descriptor:
    dw 23
    dd gdt
times 510 - ($ - $$) db 0
dw 0xaa55
