; The first VirtShell guest: greets on COM1, echoes each line typed into the serial port, and powers off through
; isa-debug-exit on the line "exit". Input is interrupt driven (IRQ 4 through the 8259), never polled, so the
; guest sleeps in HLT between keystrokes. Runs the same on any model with a PC chipset (emulated, hardware).

bits 16
org 0x7c00

COM1        equ 0x3f8
DEBUG_EXIT  equ 0xf4
IRQ4_VECTOR equ 0x0c            ; master PIC based at 0x08, as a PC BIOS leaves it
LINE_MAX    equ 120

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    cld

    ; 8259 pair: edge triggered, cascaded, master at vector 0x08, slave at 0x70
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, 0x08
    out 0x21, al
    mov al, 0x70
    out 0xa1, al
    mov al, 0x04                ; master: slave on IRQ 2
    out 0x21, al
    mov al, 0x02                ; slave: cascade identity 2
    out 0xa1, al
    mov al, 0x01                ; 8086 mode
    out 0x21, al
    out 0xa1, al
    mov al, ~(1 << 4) & 0xff    ; only IRQ 4 (COM1)
    out 0x21, al
    mov al, 0xff
    out 0xa1, al

    mov word [IRQ4_VECTOR * 4], serial_isr
    mov word [IRQ4_VECTOR * 4 + 2], 0

    ; 16550: 115200 8N1, FIFOs on, receive interrupt, OUT2 (gates the IRQ line on a PC)
    mov dx, COM1 + 3
    mov al, 0x80                ; DLAB
    out dx, al
    mov dx, COM1
    mov al, 1
    out dx, al
    inc dx
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al
    mov dx, COM1 + 2
    mov al, 0x07
    out dx, al
    mov dx, COM1 + 4
    mov al, 0x0b
    out dx, al
    mov dx, COM1 + 1
    mov al, 0x01
    out dx, al

    mov si, greeting
    call puts

idle:
    sti                         ; STI's one-instruction shadow: no interrupt can slip in before HLT
    hlt
    cli
    cmp byte [line_ready], 0
    je idle

    mov si, line
    call puts
    mov si, crlf
    call puts

    mov si, line
    mov di, exit_word
    mov cx, exit_word_len
    repe cmpsb
    jne .next
    mov si, goodbye
    call puts
    xor al, al
    out DEBUG_EXIT, al          ; status (0 << 1) | 1 = 1
.next:
    mov word [line_len], 0
    mov byte [line_ready], 0
    jmp idle

; Drains the receive FIFO into the line buffer; a CR or LF completes the line.
serial_isr:
    push ax
    push bx
    push dx
.more:
    mov dx, COM1 + 5
    in al, dx
    test al, 1                  ; LSR.DR
    jz .done
    mov dx, COM1
    in al, dx
    cmp byte [line_ready], 0
    jne .more                   ; the last line is still being answered: drop input, as a busy terminal would
    cmp al, 13
    je .eol
    cmp al, 10
    je .eol
    mov bx, [line_len]
    cmp bx, LINE_MAX
    jae .more
    mov [line + bx], al
    inc bx
    mov [line_len], bx
    mov byte [line + bx], 0
    jmp .more
.eol:
    cmp word [line_len], 0
    je .more                    ; CR LF: the LF of an empty line
    mov byte [line_ready], 1
    jmp .more
.done:
    mov al, 0x20                ; non-specific EOI
    out 0x20, al
    pop dx
    pop bx
    pop ax
    iret

; Writes the zero-terminated string at DS:SI, waiting for the transmitter each byte.
puts:
    push dx
.next:
    lodsb
    test al, al
    jz .done
    mov ah, al
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20               ; LSR.THRE
    jz .wait
    mov dx, COM1
    mov al, ah
    out dx, al
    jmp .next
.done:
    pop dx
    ret

greeting    db "Hello from VirtShell! Type a line and it comes back; 'exit' powers off.", 13, 10, 0
goodbye     db "Goodbye.", 13, 10, 0
crlf        db 13, 10, 0
exit_word   db "exit", 0
exit_word_len equ $ - exit_word

line_ready  db 0
line_len    dw 0
line        times LINE_MAX + 1 db 0
