; A CPU-bound boot sector for the speed benchmarks: ITERATIONS rounds of a 10-instruction loop of ALU, memory and
; branch work, then power-off. Runs unchanged on VirtShell (isa-debug-exit at 0xF4), QEMU (the same device) and
; Bochs (which leaves on the string "Shutdown" written to port 0x8900).
;   nasm -f bin -DITERATIONS=n [-DPROTECTED] loop.asm
; Real mode runs the loop in 16-bit registers; PROTECTED enters flat 32-bit protected mode first.

%ifndef ITERATIONS
  %define ITERATIONS 1000000
%endif
INNER equ 50000                 ; real mode: 16-bit inner count, the outer count makes up ITERATIONS

bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
%ifdef PROTECTED
    lgdt [gdt_descriptor]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp 0x08:protected

bits 32
protected:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7c00
    xor eax, eax
    xor ebx, ebx
    xor edi, edi
    mov ecx, ITERATIONS
.loop:
    add eax, ecx
    xor ebx, eax
    mov [buffer + edi * 4], eax
    add edi, 1
    and edi, 255
    mov edx, [buffer + edi * 4]
    add ebx, edx
    rol eax, 3
    dec ecx
    jnz .loop
%else
    xor ax, ax
    xor bx, bx
    xor di, di
    mov si, ITERATIONS / INNER
.outer:
    mov cx, INNER
.loop:
    add ax, cx
    xor bx, ax
    mov [buffer + di], ax
    add di, 2
    and di, 510
    mov dx, [buffer + di]
    add bx, dx
    rol ax, 3
    dec cx
    jnz .loop
    dec si
    jnz .outer
%endif

    xor al, al
    out 0xf4, al
    mov dx, 0x8900
    mov esi, shutdown
    mov ecx, shutdown_len
.bochs:
    mov al, [esi]
    out dx, al
    inc esi
    loop .bochs, ecx
    cli
    hlt

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 0x08: flat 32-bit code
    dq 0x00cf92000000ffff       ; 0x10: flat 32-bit data
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd gdt

shutdown db "Shutdown"
shutdown_len equ $ - shutdown

    times 510 - ($ - $$) db 0
    dw 0xaa55

buffer equ 0x8000               ; 1 KiB of scratch the loop reads and writes, above the boot sector
