; A CPU-bound boot sector whose code is spread over many pages mapped high, as a kernel's is: it turns paging on, maps
; PAGES pages at 0xC0000000 onto physical 0x20000 (below 640 KiB, so no A20 is needed), copies a 10-instruction chunk
; of ALU, memory and branch work to the start of each page, each chunk jumping to the next page and the last back to
; a 3-instruction tail here, and runs ITERATIONS rounds of all of them. A round is PAGES * 10 + 3 instructions.
; Blocks at the same page offset of pages mapped at a fixed distance from their physical address are where a code
; cache keyed on (physical address, EIP) must not collide. Leaves like loop.asm: isa-debug-exit at 0xF4 (VirtShell,
; QEMU), "Shutdown" to port 0x8900 (Bochs).
;   nasm -f bin -DITERATIONS=n paged.asm

%ifndef ITERATIONS
  %define ITERATIONS 10000
%endif
PAGES equ 128
CODE_PHYS equ 0x20000
CODE_LINEAR equ 0xC0000000
PAGE_DIR equ 0x1000             ; then the page table for 0-4 MiB at 0x2000, the one for 0xC0000000 at 0x3000

bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
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
    cld
    ; page directory and tables: the first MiB identity-mapped, PAGES pages at CODE_LINEAR onto CODE_PHYS
    mov edi, PAGE_DIR
    xor eax, eax
    mov ecx, 3 * 1024
    rep stosd
    mov dword [PAGE_DIR], 0x2003
    mov dword [PAGE_DIR + (CODE_LINEAR >> 22) * 4], 0x3003
    mov edi, 0x2000
    mov eax, 3
    mov ecx, 256
.identity:
    stosd
    add eax, 0x1000
    loop .identity
    mov edi, 0x3000
    mov eax, CODE_PHYS | 3
    mov ecx, PAGES
.high:
    stosd
    add eax, 0x1000
    loop .high
    ; a chunk at the start of every code page; the last one's jump goes to the tail
    mov edx, CODE_PHYS
    mov ebp, PAGES
.copy:
    mov esi, chunk
    mov edi, edx
    mov ecx, chunk_len
    rep movsb
    add edx, 0x1000
    dec ebp
    jnz .copy
    mov eax, tail - (CODE_LINEAR + (PAGES - 1) * 0x1000 + chunk_len)
    mov [CODE_PHYS + (PAGES - 1) * 0x1000 + chunk_len - 4], eax
    mov eax, PAGE_DIR
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp .paged
.paged:
    xor eax, eax
    xor ebx, ebx
    xor edi, edi
    mov ecx, 1
    mov ebp, ITERATIONS
    mov esi, CODE_LINEAR
    jmp esi
tail:
    dec ebp
    jz done
    jmp esi
done:
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

; The chunk, copied to every page: nine instructions, then a jump to the same offset of the next page.
chunk:
    add eax, ecx
    xor ebx, eax
    mov [buffer + edi * 4], eax
    add edi, 1
    and edi, 255
    mov edx, [buffer + edi * 4]
    add ebx, edx
    rol eax, 3
    inc ecx
    db 0xe9
    dd 0x1000 - chunk_len
chunk_len equ $ - chunk

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

buffer equ 0x8000               ; 1 KiB of scratch the chunks read and write, above the boot sector
