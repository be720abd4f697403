; The ring-3 loop of ring3-loop.asm as a static Linux x86-64 program, so a container (or the host) runs the very same
; instructions natively: `ring3-loop-linux.bin N` runs N rounds of loop64.inc, then exits with status 0 (2 when N is
; missing or not a decimal number). The ELF header and its one program header are written out here, so nasm's flat
; output is the whole executable, with no linker.
;   nasm -f bin -i machine-defs/guests/ ring3-loop-linux.asm

bits 64
BASE   equ 0x400000
BUFFER equ BASE + 0x400                 ; 1 KiB of scratch past the code, zero-filled by the loader
MEMORY equ 0x800

org BASE
elf_header:
    db 0x7f, 'ELF', 2, 1, 1, 0          ; 64-bit, little-endian, version 1, System V
    times 8 db 0
    dw 2                                ; ET_EXEC
    dw 0x3e                             ; x86-64
    dd 1
    dq start                            ; entry
    dq program_header - $$              ; program headers' offset
    dq 0                                ; no section headers
    dd 0
    dw 64                               ; ELF header size
    dw 56                               ; program header size
    dw 1                                ; one program header
    dw 0, 0, 0

program_header:
    dd 1                                ; PT_LOAD
    dd 7                                ; read, write, execute: the buffer lives in the same segment
    dq 0                                ; from the file's start
    dq BASE, BASE
    dq file_end - $$                    ; bytes in the file
    dq MEMORY                           ; bytes in memory, the buffer included
    dq 0x1000

start:
    mov rsi, [rsp + 16]                 ; argv[1]
    test rsi, rsi
    jz usage
    xor ecx, ecx
.digit:
    movzx eax, byte [rsi]
    inc rsi
    test al, al
    jz .parsed
    sub al, '0'
    cmp al, 9
    ja usage
    imul rcx, rcx, 10
    add rcx, rax
    jmp .digit
.parsed:
    test rcx, rcx
    jz done
    xor eax, eax
    xor ebx, ebx
    xor edi, edi
%include "loop64.inc"
done:
    mov eax, 60                         ; exit(0)
    xor edi, edi
    syscall
usage:
    mov eax, 60                         ; exit(2)
    mov edi, 2
    syscall

file_end:
%if file_end - $$ > BUFFER - BASE
  %error the code has grown into the buffer
%endif
