; Counts on the serial port, one line per two PIT ticks (IRQ 0 through the 8259, the CPU halted in between), and
; keeps the count twice: in EBX and in x87 ST(0). A mismatch, or a HLT that ends without a tick, prints FAIL and
; exits through isa-debug-exit. The checkpoint and saved-state tests run it: a restored guest must go on counting
; without a gap or a repeat.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov al, 0x11            ; both 8259s: edge, cascade, ICW4
    out 0x20, al
    out 0xa0, al
    mov al, 0x20            ; IRQ 0-7 at vector 20h
    out 0x21, al
    mov al, 0x28
    out 0xa1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xa1, al
    mov al, 1
    out 0x21, al
    out 0xa1, al
    mov al, 0xfe            ; IRQ 0 only
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    mov word [0x20*4], tick
    mov word [0x20*4+2], 0
    mov al, 0x34            ; channel 0, mode 2, ~1 kHz
    out 0x43, al
    mov ax, 1193
    out 0x40, al
    mov al, ah
    out 0x40, al
    fninit
    fldz
    xor ebx, ebx
    sti
count:
    call print
    mov cx, 2
idle:
    mov ax, [ticks]
    hlt
    cmp ax, [ticks]         ; a HLT ends only with an interrupt
    je fail
    loop idle
    inc ebx
    fld1
    faddp st1, st0
    fist dword [check]
    cmp ebx, [check]
    jne fail
    jmp count

tick:
    push ax
    inc word [ticks]
    mov al, 0x20
    out 0x20, al
    pop ax
    iret

print:                      ; EBX in decimal, then a line feed
    pushad
    mov eax, ebx
    mov di, digits_end
    mov ecx, 10
.digit:
    xor edx, edx
    div ecx
    add dl, '0'
    dec di
    mov [di], dl
    test eax, eax
    jnz .digit
    mov dx, 0x3f8
.out:
    mov al, [di]
    out dx, al
    inc di
    cmp di, digits_end
    jne .out
    mov al, 10
    out dx, al
    popad
    ret

fail:
    mov si, failed
    mov dx, 0x3f8
.out:
    lodsb
    out dx, al
    test al, al
    jnz .out
    mov al, 1
    out 0xf4, al
    hlt

failed db 'FAIL', 10, 0
check dd 0
ticks dw 0
digits times 12 db 0
digits_end:
