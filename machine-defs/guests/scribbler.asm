; Enters flat 32-bit protected mode, prints "ready" on COM1, then writes for ever: a xorshift32 dword to a random
; dword of the 4 MiB from 1 MiB on, and every other time a 16-byte REP STOSD at a random page, with a line "." on COM1
; every 65536 writes. For the dirty-page and pre-copy tests: every page it changes must be logged.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    in al, 0x92
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
%ifdef FILL_MIB
    ; Assembled with -DFILL_MIB=n (the remoting bench): first n MiB of xorshift noise from 16 MiB on, as touch.asm.
    mov edi, 0x1000000
    mov ecx, FILL_MIB * 1024 * 1024 / 4
    mov eax, 2463534242
fill:
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
    jnz fill
%endif
    mov esi, ready
    mov dx, 0x3f8
print:
    lodsb
    test al, al
    jz write
    out dx, al
    jmp print
write:
    mov eax, 2463534242
    xor ebp, ebp
next:
    mov edx, eax
    shl edx, 13
    xor eax, edx
    mov edx, eax
    shr edx, 17
    xor eax, edx
    mov edx, eax
    shl edx, 5
    xor eax, edx
    mov ebx, eax
    and ebx, 0x3ffffc
    mov [ebx + 0x100000], eax
    test eax, 0x100
    jz counted
    mov edi, eax
    shr edi, 4
    and edi, 0x3ff000
    add edi, 0x100000
    mov ecx, 4
    push eax
    rep stosd
    pop eax
counted:
    inc ebp
    test ebp, 0xffff
    jnz next
    push eax
    mov al, '.'
    mov dx, 0x3f8
    out dx, al
    mov al, 10
    out dx, al
    pop eax
    jmp next

ready: db "ready", 10, 0
align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff
    dq 0x00cf92000000ffff
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd gdt

times 510 - ($ - $$) db 0
dw 0xaa55
