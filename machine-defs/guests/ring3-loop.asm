; A boot sector that enters 64-bit long mode, drops to ring 3 and runs a loop there, then powers off through
; isa-debug-exit (port 0xF4; IOPL 3 lets ring 3 do port I/O), or through the hypercall channel (port 0x5650) on a
; machine without isa-debug-exit (paravirtual). Under KVM on a host that is itself a VM, ring-0 code is emulated by
; the host kernel while ring-3 code runs natively: this guest shows that fast path.
;   nasm -f bin -i machine-defs/guests/ [-DITERATIONS=n] [-DOUT_EXITS] ring3-loop.asm
; What the loop does is the KIND byte of the parameter block at offset 0x1F0, and how often the qword before it, so a
; host can change both in a copy of the image without assembling it again (Compare-VirtModel does):
;   0  the CPU benchmark's 10-instruction round of ALU, memory and branch work (loop64.inc, shared with the Linux
;      program ring3-loop-linux.asm); the default
;   1  writes to an unclaimed port: each one is a VM exit to the user-space device model, which measures what an
;      exit costs (OUT_EXITS makes this the default)
;   2  bytes to COM1, polling LSR before each as a driver would: console throughput through the emulated UART
;   3  writes to the QueueNotify register of a virtio-mmio device at 0xD0000000 (no buffers queued): the doorbell
;      of paravirtual I/O, an MMIO exit to the device model
; The parameter block ends with the tag "LOOP", which tells a host it has the right image.

%ifndef ITERATIONS
  %define ITERATIONS 1000000
%endif
%ifdef OUT_EXITS
  %define KIND 1
%else
  %define KIND 0
%endif
UNCLAIMED_PORT equ 0x2e0        ; nothing answers it on VirtShell's PC or QEMU's
DEBUG_EXIT     equ 0xf4
HYPERCALL_PORT equ 0x5650       ; hypercalls({ port }) default
COM1           equ 0x3f8
VIRTIO_NOTIFY  equ 0xd0000050   ; QueueNotify of the first virtio-mmio window (kit-paravirtual.js's console)
PML4           equ 0x1000       ; identity map of the first 2 MiB and of 0xC0000000-0xFFFFFFFF's window at
PDPT           equ 0x2000       ; 0xD0000000, large pages, user-accessible
PD             equ 0x3000
PD_HIGH        equ 0x4000
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
    mov cx, 4 * 4096 / 2
    rep stosw
    mov dword [PML4], PDPT | 7          ; present, writable, user
    mov dword [PDPT], PD | 7
    mov dword [PD], 0x87                ; 2 MiB page at 0: present, writable, user, large
    mov dword [PDPT + 3 * 8], PD_HIGH | 7
    mov dword [PD_HIGH + 0x80 * 8], 0xd0000000 | 0x9f ; 2 MiB at 0xD0000000: also cache-disabled

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
    mov rcx, [iterations]
    mov al, [kind]
    cmp al, 1
    je port_exits
    cmp al, 2
    je uart_bytes
    cmp al, 3
    je virtio_notify
    xor eax, eax
    xor ebx, ebx
    xor edi, edi
%include "loop64.inc"
power_off:
    xor al, al
    out DEBUG_EXIT, al
    jmp hypercall_off                   ; a jump ends the interpreter's block here, so the state stays as it was
hypercall_off:                          ; ignored where the port is unclaimed
    mov eax, hypercall_block
    mov dx, HYPERCALL_PORT
    out dx, eax
.off:                                   ; an exit each time round, so a stop is seen (ring 3 cannot HLT)
    mov dx, UNCLAIMED_PORT
    out dx, al
    jmp .off

port_exits:
    mov dx, UNCLAIMED_PORT
.loop:
    out dx, al
    dec rcx
    jnz .loop
    jmp power_off

uart_bytes:                             ; '0' + (count & 63), with a line end each 64 bytes
    mov dx, COM1 + 5                    ; LSR
    in al, dx
    test al, 0x20                       ; THRE
    jz uart_bytes
    mov al, cl
    and al, 63
    add al, '0'
    cmp al, '0'
    jne .put
    mov al, 10
.put:
    mov dx, COM1
    out dx, al
    dec rcx
    jnz uart_bytes
    jmp power_off

virtio_notify:
    xor eax, eax                        ; queue 0
    mov ebx, VIRTIO_NOTIFY              ; zero-extended: a 32-bit displacement would be sign-extended
.loop:
    mov [rbx], eax
    dec rcx
    jnz .loop
    jmp power_off

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

align 8
hypercall_block:                        ; POWER_OFF with status 0 (docs/hypercalls.md)
    dd 0x43485356, 3
    dq 0, 0, 0, 0, 0, 0, 0

    times 0x1f0 - ($ - $$) db 0
iterations: dq ITERATIONS               ; the parameter block: offset 0x1F0
kind:       db KIND                     ; offset 0x1F8
            db 'LOOP'                   ; offset 0x1F9
    times 510 - ($ - $$) db 0
    dw 0xaa55
