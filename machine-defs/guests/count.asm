; A counted stream for console tests: prints "ready" on COM1, waits for one byte of input, then prints the lines
; "line 00001" ... "line 20000" and powers off through isa-debug-exit (status 1). Readers that watch the console
; at once can each check that they got every line, in order. Polled, so it needs no interrupt controller set up.

bits 16
org 0x7c00

COM1        equ 0x3f8
DEBUG_EXIT  equ 0xf4
COUNT       equ 20000

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    cld

    mov dx, COM1 + 4
    mov al, 0x03                ; DTR and RTS: the host sends input only to a UART that says it is ready for it
    out dx, al
    mov si, ready
    call puts
    mov dx, COM1 + 5
.wait_key:
    in al, dx
    test al, 0x01               ; data ready
    jz .wait_key
    mov dx, COM1
    in al, dx

    mov cx, COUNT
.line:
    mov si, text
    call puts
    mov bx, digits_end - 1      ; the number, as five ASCII digits, plus one
.carry:
    inc byte [bx]
    cmp byte [bx], '9'
    jbe .counted
    mov byte [bx], '0'
    dec bx
    jmp .carry
.counted:
    loop .line

    xor al, al
    out DEBUG_EXIT, al
.halt:
    hlt
    jmp .halt

; Prints the zero-terminated string at SI.
puts:
    lodsb
    test al, al
    jz .done
    mov ah, al
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20               ; transmitter holding register empty
    jz .wait
    mov al, ah
    mov dx, COM1
    out dx, al
    jmp puts
.done:
    ret

ready:      db 'ready', 13, 10, 0
text:       db 'line '
digits:     db '00001'
digits_end: db 13, 10, 0
